"""One optimizer wrapper per named submodule of a model."""
import copy
from typing import Optional

import torch.nn as nn
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

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
      Defaults to ``'DefaultOptimWrapperConstructor'``;
      ``'OriginalsListingOptimWrapperConstructor'`` builds the originals'
      effective optimiser (see its class).
    - ``paramwise_cfg`` (dict): parameter-wise options of this wrapper
      (e.g. ``custom_keys`` for a 10x lr on the heads). A top-level
      ``paramwise_cfg`` is refused: it would be ambiguous.

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
        ...         constructor='OriginalsListingOptimWrapperConstructor'),
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
            if 'originals_listing' in sub_cfg:
                raise ValueError(
                    f'`{key}.originals_listing` is gone: write '
                    f"`{key}=dict(constructor='OriginalsListing"
                    "OptimWrapperConstructor', ...)` for the originals' "
                    'optimiser (and nothing for the nominal one)')
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
        constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(
                type=constructor_type,
                optim_wrapper_cfg=sub_cfg,
                paramwise_cfg=paramwise_cfg))
        return constructor(submodule)
