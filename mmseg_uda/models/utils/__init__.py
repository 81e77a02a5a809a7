"""Small tensor functions shared by the UDA models."""
from .class_mix import class_mix, class_mix_masks, one_mix
from .downscale_label_ratio import downscale_label_ratio
from .mix_augmentation import (blur_kernel_size, color_jitter, gaussian_blur,
                               mix_augment)
from .module_access import set_requires_grad, unwrap
from .nonfinite_guard import (NONFINITE_MODES, NonFiniteLossError,
                              all_ranks_finite, handle_nonfinite)
from .optim_steps import (refuse_accumulation, step_wrappers,
                          training_wrappers)
from .pseudo_weight_crop import crop_pseudo_weight
from .state_dict_exclusion import exclude_from_state_dict
from .unwrapped_state_dict import UnwrappedStateDictMixin

__all__ = [
    'class_mix', 'class_mix_masks', 'one_mix', 'downscale_label_ratio',
    'blur_kernel_size', 'color_jitter', 'gaussian_blur', 'mix_augment',
    'set_requires_grad', 'unwrap', 'NONFINITE_MODES', 'NonFiniteLossError',
    'all_ranks_finite', 'handle_nonfinite', 'refuse_accumulation',
    'step_wrappers', 'training_wrappers', 'crop_pseudo_weight',
    'exclude_from_state_dict',
    'UnwrappedStateDictMixin'
]
