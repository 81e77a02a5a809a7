"""The optimiser the DeepLab-v2 UDA originals effectively ran."""
from collections import Counter
from typing import Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

from .torch04_sgd import Torch04SGD

_BACKBONE_PREFIX = 'backbone.'
_SGD_TYPES = ('SGD', 'torch.optim.SGD', torch.optim.SGD, 'Torch04SGD',
              Torch04SGD)


def originals_listing_multiplicity(name: str) -> int:
    """How many times the originals listed a segmentor parameter.

    The DeepLab-v2 UDA originals build their optimizer from a walk over
    ``module.modules()`` of each backbone stage that yields every
    ``parameters()`` of every module on the way, so a backbone parameter
    is listed once per module on its path below the backbone:
    ``backbone.conv1.weight`` once, ``backbone.layer1.0.conv1.weight``
    three times, ``backbone.layer1.0.downsample.0.weight`` four times. The
    classifier heads are listed once.

    Args:
        name (str): Parameter name relative to the segmentor, as given by
            its ``named_parameters()``.

    Returns:
        int: The multiplicity, at least 1 (every non-backbone parameter, and
        a parameter held by the backbone module itself, counts once).
    """
    if not name.startswith(_BACKBONE_PREFIX):
        return 1
    module_path = name[len(_BACKBONE_PREFIX):].split('.')[:-1]
    return max(1, len(module_path))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class OriginalsListingOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, with the originals' effective SGD.

    AdaptSegNet, ADVENT, IntraDA and BDL list each backbone parameter once
    per module on its path (:func:`originals_listing_multiplicity`) and ran
    PyTorch 0.4's SGD over that listing, so the backbone moved about 3-4x
    faster than nominal, with momentum applied per listing. This
    constructor builds the config's ``SGD`` as :class:`Torch04SGD` with the
    same arguments (so ``paramwise_cfg``, e.g. 10x lr on the heads, still
    applies) and gives every parameter its multiplicity. The module must
    have a ``backbone``. Name it per wrapper in a
    ``MultiOptimWrapperConstructor`` config (the default there is the
    nominal optimiser of mmengine's ``DefaultOptimWrapperConstructor``):

    Example:
        >>> optim_wrapper = dict(
        ...     constructor='MultiOptimWrapperConstructor',
        ...     segmentor=dict(
        ...         constructor='OriginalsListingOptimWrapperConstructor',
        ...         type='OptimWrapper',
        ...         optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9,
        ...                        weight_decay=5e-4)),
        ...     discriminators=dict(
        ...         type='OptimWrapper',
        ...         optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))

    Args:
        optim_wrapper_cfg (dict): The wrapper config; its ``optimizer`` must
            be SGD.
        paramwise_cfg (dict, optional): As mmengine's default constructor.

    Raises:
        ValueError: If the optimizer is not SGD.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        optim_wrapper_cfg = dict(optim_wrapper_cfg)
        optimizer_cfg = dict(optim_wrapper_cfg.get('optimizer') or {})
        if optimizer_cfg.get('type') not in _SGD_TYPES:
            raise ValueError(
                'OriginalsListingOptimWrapperConstructor reproduces the '
                'PyTorch 0.4 SGD of the originals: its optimizer must be '
                f"SGD, got {optimizer_cfg.get('type')!r}")
        # The class itself, so that it is found whatever the default scope.
        optimizer_cfg['type'] = Torch04SGD
        optim_wrapper_cfg['optimizer'] = optimizer_cfg
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the wrapper and set the multiplicities of ``model``'s
        parameters.

        Raises:
            ValueError: If ``model`` has no ``backbone``.
        """
        # a wrapped module (DDP): as MultiOptimWrapperConstructor unwraps
        module = getattr(model, 'module', model)
        if not isinstance(getattr(module, 'backbone', None), nn.Module):
            raise ValueError(
                'OriginalsListingOptimWrapperConstructor repeats backbone '
                f'parameters, but {type(module).__name__} has no `backbone`')
        wrapper = super().__call__(model)
        names = {id(p): name for name, p in module.named_parameters()}
        counts: Counter = Counter()
        for group in wrapper.optimizer.param_groups:
            multiplicities = []
            for param in group['params']:
                multiplicity = originals_listing_multiplicity(names[id(param)])
                multiplicities.append(multiplicity)
                if param.requires_grad:
                    counts[multiplicity] += 1
            group['multiplicities'] = multiplicities
        summary = ', '.join(f'{counts[m]} params x{m}' for m in sorted(counts))
        print_log(
            f'originals listing of {type(module).__name__}: Torch04SGD steps '
            f'{summary} (PyTorch 0.4 SGD over the originals\' repeated '
            'listing)', logger='current')
        return wrapper
