"""Base of the UDA models: a stock mmseg segmentor held by composition."""
from typing import Dict, List, Union

import torch.nn as nn
from mmengine.model import BaseModel, is_model_wrapper
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptSampleList
from torch import Tensor


@MODELS.register_module()
class BaseUDASegmentor(BaseModel):
    """Holds a stock mmseg segmentor as ``segmentor`` and delegates to it.

    ``predict`` and ``tensor`` modes go to the segmentor, so mmseg's
    ``ValLoop``/``TestLoop``, ``IoUMetric`` and visualisation hooks work
    unchanged. A plain segmentor checkpoint (``backbone.*``,
    ``decode_head.*`` ...) given as ``load_from`` initialises the segmentor:
    keys without the ``segmentor.`` prefix are mapped onto it.

    Args:
        segmentor (dict): Config of the segmentor, e.g. ``_base_.model``.
        data_preprocessor (dict, optional): Preprocessor of paired batches,
            e.g. ``UDASegDataPreProcessor`` with the segmentor's settings.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 segmentor: ConfigType,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.segmentor = MODELS.build(segmentor)

    @staticmethod
    def unwrap(module: nn.Module) -> nn.Module:
        """The module inside a DDP wrapper (or the module itself)."""
        return module.module if is_model_wrapper(module) else module

    @property
    def seg(self) -> nn.Module:
        """The segmentor, unwrapped from DDP (for non-forward calls)."""
        return self.unwrap(self.segmentor)

    def forward(self,
                inputs: Tensor,
                data_samples: OptSampleList = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List,
                                               Tensor]:
        """Delegate to the segmentor (any mode it supports)."""
        return self.segmentor(inputs, data_samples, mode=mode)

    def state_dict(self, *args, destination=None, prefix: str = '',
                   keep_vars: bool = False) -> dict:
        """State dict without the ``module.`` of DDP-wrapped children.

        ``MMSeparateDistributedDataParallel`` wraps ``segmentor`` and the
        other children in DDP, so a plain state dict holds
        ``segmentor.module.backbone...``, while mmengine's loader unwraps
        wrappers and expects ``segmentor.backbone...``. Saving the unwrapped
        names makes checkpoints of distributed runs load (``--resume``,
        ``tools/test.py``) anywhere.
        """
        state = super().state_dict(
            *args, destination=destination, prefix=prefix,
            keep_vars=keep_vars)
        for name, child in self._modules.items():
            if not is_model_wrapper(child):
                continue
            wrapped = f'{prefix}{name}.module.'
            for key in [k for k in state if k.startswith(wrapped)]:
                state[f'{prefix}{name}.{key[len(wrapped):]}'] = \
                    state.pop(key)
        return state

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: List[str],
                              unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        """Map a plain segmentor checkpoint onto ``segmentor``."""
        own = [k for k in state_dict if k.startswith(prefix)]
        children = tuple(f'{prefix}{name}.' for name in self._modules)
        if own and not any(k.startswith(children) for k in own):
            for key in own:
                state_dict[f'{prefix}segmentor.{key[len(prefix):]}'] = \
                    state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
