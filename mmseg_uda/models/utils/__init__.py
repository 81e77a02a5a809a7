"""Small tensor functions shared by the UDA models."""
from .class_mix import class_mix, class_mix_masks, one_mix
from .module_access import set_requires_grad, unwrap
from .mix_augmentation import (blur_kernel_size, color_jitter, gaussian_blur,
                               mix_augment)
from .nonfinite_guard import (NONFINITE_MODES, NonFiniteLossError,
                              all_ranks_finite, handle_nonfinite)
from .optim_steps import (refuse_accumulation, step_wrappers,
                          training_wrappers)
from .unwrapped_state_dict import UnwrappedStateDictMixin

__all__ = ['class_mix', 'class_mix_masks', 'one_mix', 'blur_kernel_size',
           'color_jitter', 'gaussian_blur', 'mix_augment',
           'UnwrappedStateDictMixin', 'NONFINITE_MODES', 'NonFiniteLossError',
           'all_ranks_finite', 'handle_nonfinite', 'unwrap',
           'set_requires_grad', 'refuse_accumulation', 'step_wrappers',
           'training_wrappers']
