"""One optimizer wrapper per named submodule of a model."""
import copy
from collections import Counter
from typing import Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

from .torch04_sgd import Torch04SGD

_BACKBONE_PREFIX = 'backbone.'
_SGD_TYPES = ('SGD', 'torch.optim.SGD', torch.optim.SGD)


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
class MultiOptimWrapperConstructor:
    """Build one optimizer wrapper per named submodule of the model.

    Every top-level key of the optimizer wrapper config names a submodule
    (``getattr(model, key)``, after unwrapping ``model.module`` when the
    model is wrapped, e.g. by ``MMSeparateDistributedDataParallel``) and
    holds the config of its own optimizer wrapper, built by mmengine's
    ``DefaultOptimWrapperConstructor`` or by the constructor named in the
    sub-config's ``constructor``. The result is an ``OptimWrapperDict`` with
    the same keys, so ``param_scheduler`` may be given per optimizer:
    ``param_scheduler=dict(segmentor=[...], discriminators=[...])``.

    Each sub-config may hold, besides the fields of its wrapper type
    (``type``, ``optimizer``, ``clip_grad``, ``loss_scale`` ...):

    - ``constructor`` (str): the constructor building this wrapper.
      Defaults to ``'DefaultOptimWrapperConstructor'``.
    - ``paramwise_cfg`` (dict): parameter-wise options of this wrapper
      (e.g. ``custom_keys`` for a 10x lr on the heads). A top-level
      ``paramwise_cfg`` is refused: it would be ambiguous.
    - ``originals_listing`` (bool): the one-line switch between the
      originals' effective optimiser (True) and the nominal one (False,
      the default). The originals list each backbone parameter once per
      module on its path and ran PyTorch 0.4's SGD over that listing, so
      the backbone moved about 3-4x faster than nominal, with momentum
      applied per listing. With True, the ``SGD`` of this sub-config is
      built as :class:`Torch04SGD` with the same arguments (so
      ``paramwise_cfg`` still applies) and each parameter is stepped
      :func:`originals_listing_multiplicity` times. The submodule must have
      a ``backbone``.

    Example:
        >>> optim_wrapper = dict(
        ...     constructor='MultiOptimWrapperConstructor',
        ...     segmentor=dict(
        ...         type='OptimWrapper',
        ...         optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9,
        ...                        weight_decay=5e-4),
        ...         paramwise_cfg=dict(custom_keys={
        ...             'decode_head': dict(lr_mult=10.),
        ...             'auxiliary_head': dict(lr_mult=10.)}),
        ...         originals_listing=True),
        ...     discriminators=dict(
        ...         type='OptimWrapper',
        ...         optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))

    Args:
        optim_wrapper_cfg (dict): One optimizer wrapper config per submodule
            name (what ``build_optim_wrapper`` leaves after popping
            ``constructor`` and ``paramwise_cfg``).
        paramwise_cfg (dict, optional): Must be None: put ``paramwise_cfg``
            inside each sub-config instead.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError(
                'MultiOptimWrapperConstructor takes no top-level '
                '`paramwise_cfg`: put it inside each sub-config, e.g. '
                'optim_wrapper=dict(constructor=..., segmentor=dict('
                'optimizer=..., paramwise_cfg=...), ...)')
        if not isinstance(optim_wrapper_cfg, dict):
            raise TypeError('optim_wrapper_cfg should be a dict, got '
                            f'{type(optim_wrapper_cfg)}')
        if not optim_wrapper_cfg:
            raise ValueError(
                'MultiOptimWrapperConstructor got an empty config: give one '
                'optimizer wrapper config per submodule, e.g. '
                "segmentor=dict(type='OptimWrapper', optimizer=...)")
        for key, sub_cfg in optim_wrapper_cfg.items():
            if not isinstance(sub_cfg, dict) or 'optimizer' not in sub_cfg:
                raise TypeError(
                    f'`{key}` of a MultiOptimWrapperConstructor config must '
                    'be an optimizer wrapper config (a dict with '
                    f'`optimizer`) for the submodule `{key}`, got '
                    f'{sub_cfg!r}')
        self.optim_wrapper_cfgs = {
            key: copy.deepcopy(sub_cfg)
            for key, sub_cfg in optim_wrapper_cfg.items()
        }

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        """Build the optimizer wrappers.

        Args:
            model (nn.Module): The model, possibly wrapped (``.module``).

        Returns:
            OptimWrapperDict: One wrapper per config key.
        """
        if hasattr(model, 'module'):
            model = model.module
        wrappers = {}
        for key, sub_cfg in self.optim_wrapper_cfgs.items():
            submodule = getattr(model, key, None)
            if not isinstance(submodule, nn.Module):
                children = [name for name, _ in model.named_children()]
                raise KeyError(
                    f'optim_wrapper key `{key}` names no submodule of '
                    f'{type(model).__name__}; its children are {children}')
            wrappers[key] = self._build_wrapper(key, submodule,
                                                copy.deepcopy(sub_cfg))
        return OptimWrapperDict(**wrappers)

    def _build_wrapper(self, key: str, submodule: nn.Module,
                       sub_cfg: dict) -> OptimWrapper:
        """Build the wrapper of one submodule with its own constructor."""
        constructor_type = sub_cfg.pop('constructor',
                                       'DefaultOptimWrapperConstructor')
        paramwise_cfg = sub_cfg.pop('paramwise_cfg', None)
        originals_listing = sub_cfg.pop('originals_listing', False)
        if originals_listing:
            sub_cfg['optimizer'] = self._torch04_optimizer_cfg(
                key, sub_cfg['optimizer'])
        constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(
                type=constructor_type,
                optim_wrapper_cfg=sub_cfg,
                paramwise_cfg=paramwise_cfg))
        wrapper = constructor(submodule)
        if originals_listing:
            self._set_multiplicities(key, submodule, wrapper)
        return wrapper

    @staticmethod
    def _torch04_optimizer_cfg(key: str, optimizer_cfg: dict) -> dict:
        """Turn an ``SGD`` config into a :class:`Torch04SGD` one."""
        optimizer_type = optimizer_cfg.get('type')
        if optimizer_type not in _SGD_TYPES + ('Torch04SGD', Torch04SGD):
            raise ValueError(
                f'originals_listing=True reproduces the PyTorch 0.4 SGD of '
                f'the originals: the optimizer of `{key}` must be SGD, got '
                f'{optimizer_type!r}')
        optimizer_cfg = dict(optimizer_cfg)
        # The class itself, so that it is found whatever the default scope.
        optimizer_cfg['type'] = Torch04SGD
        return optimizer_cfg

    @staticmethod
    def _set_multiplicities(key: str, submodule: nn.Module,
                            wrapper: OptimWrapper) -> None:
        """Fill the ``multiplicities`` of every param group from names."""
        optimizer = wrapper.optimizer
        if not isinstance(optimizer, Torch04SGD):
            raise TypeError(
                f'originals_listing=True expects the constructor of `{key}` '
                f'to build the given optimizer, got {type(optimizer)}')
        if hasattr(submodule, 'module'):
            submodule = submodule.module
        if not isinstance(getattr(submodule, 'backbone', None), nn.Module):
            raise ValueError(
                f'originals_listing=True repeats the backbone parameters of '
                f'`{key}`, but {type(submodule).__name__} has no `backbone`')
        names = {id(p): name for name, p in submodule.named_parameters()}
        counts: Counter = Counter()
        for group in optimizer.param_groups:
            multiplicities = []
            for param in group['params']:
                if id(param) not in names:
                    raise KeyError(f'a parameter of the `{key}` optimizer is '
                                   f'not a parameter of `{key}`')
                multiplicity = originals_listing_multiplicity(names[id(param)])
                multiplicities.append(multiplicity)
                if param.requires_grad:
                    counts[multiplicity] += 1
            group['multiplicities'] = multiplicities
        summary = ', '.join(f'{counts[m]} params x{m}' for m in sorted(counts))
        print_log(
            f'originals_listing for `{key}`: Torch04SGD steps {summary} '
            '(PyTorch 0.4 SGD over the originals\' repeated listing)',
            logger='current')
