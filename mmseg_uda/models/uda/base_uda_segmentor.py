"""Base of the UDA models: a stock mmseg segmentor held by composition."""
from typing import Dict, List, Mapping, Union

import torch.nn as nn
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.optim import OptimWrapper
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptSampleList
from torch import Tensor

from ..utils.unwrapped_state_dict import UnwrappedStateDictMixin


@MODELS.register_module()
class BaseUDASegmentor(UnwrappedStateDictMixin, BaseModel):
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

    def check_levels(self, weights: Mapping[str, float],
                     name: str) -> Dict[str, float]:
        """Check that ``weights`` names output levels of the segmentor.

        Args:
            weights (dict[str, float]): Weights per level (``'main'``,
                ``'aux'``).
            name (str): The argument's name, for the error message.

        Returns:
            dict[str, float]: A copy of ``weights``.

        Raises:
            ValueError: If ``weights`` is empty or names a level the
                segmentor does not have.
        """
        levels = {'main'} | ({'aux'} if self.seg.with_auxiliary_head
                             else set())
        if not weights or set(weights) - levels:
            raise ValueError(
                f'{name} must name adapted output levels among '
                f'{sorted(levels)}, got {dict(weights)}')
        return dict(weights)

    def record_losses(self, loss_terms: Dict[str, Tensor],
                      log_vars: Dict[str, Tensor]) -> Tensor:
        """Sum the loss terms and add them to ``log_vars``.

        Args:
            loss_terms (dict[str, Tensor]): Loss terms (and accuracies,
                which mmengine does not sum: their keys hold no ``loss``).
            log_vars (dict[str, Tensor]): Logged values, updated in place.

        Returns:
            Tensor: The total loss of these terms.
        """
        # parse_losses also returns a 'loss' total per call: not logged.
        loss, logs = self.parse_losses(loss_terms)
        logs.pop('loss')
        log_vars.update(logs)
        return loss

    def source_step(self, source: dict, optim_wrapper: OptimWrapper,
                    log_vars: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Supervised loss on a preprocessed source batch, backward.

        The heads' own ``loss_decode`` (e.g. CE main + 0.1 CE aux) on the
        logits upsampled to the label size; logged as ``src.<level>.*``.
        Gradients are accumulated, the optimizer does not step.

        Args:
            source (dict): ``inputs`` and ``data_samples`` of the source
                domain, preprocessed.
            optim_wrapper (OptimWrapper): The segmentor's wrapper.
            log_vars (dict[str, Tensor]): Logged values, updated in place.

        Returns:
            dict[str, Tensor]: The source logits of every level (from
            ``forward(mode='levels')``), still attached to the graph.
        """
        with optim_wrapper.optim_context(self.segmentor):
            levels = self.segmentor(source['inputs'],
                                    source['data_samples'], mode='levels')
            losses = self.seg.loss_by_levels(levels, source['data_samples'])
            loss = self.record_losses(
                {f'src.{k}': v for k, v in losses.items()}, log_vars)
        optim_wrapper.backward(loss)
        return levels

    def forward(self,
                inputs: Tensor,
                data_samples: OptSampleList = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List,
                                               Tensor]:
        """Delegate to the segmentor (any mode it supports)."""
        return self.segmentor(inputs, data_samples, mode=mode)

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
