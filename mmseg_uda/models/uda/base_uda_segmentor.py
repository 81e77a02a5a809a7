"""Base of the UDA models: a stock mmseg segmentor held by composition."""
import logging
from typing import (Callable, Dict, Iterable, List, Mapping, Optional,
                    Sequence, Union)

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptSampleList
from torch import Tensor

from ...utils.number_checks import check_weight
from ..utils import step_wrappers, training_wrappers, unwrap
from ..utils.nonfinite_guard import (NONFINITE_MODES, all_ranks_finite,
                                     handle_nonfinite)
from ..utils.unwrapped_state_dict import UnwrappedStateDictMixin


@MODELS.register_module()
class BaseUDASegmentor(UnwrappedStateDictMixin, BaseModel):
    """Holds a stock mmseg segmentor as ``segmentor`` and delegates to it.

    ``predict`` and ``tensor`` modes go to the segmentor, so mmseg's
    ``ValLoop``/``TestLoop``, ``IoUMetric`` and visualisation hooks work
    unchanged. A plain segmentor checkpoint (``backbone.*``,
    ``decode_head.*`` ...) given as ``load_from`` initialises the segmentor:
    keys without the ``segmentor.`` prefix are mapped onto it, and the other
    parts (discriminators ...) keep their initialisation, which is logged in
    one line.

    Training options shared by every UDA model:

    * ``channels_last``: keep the weights of every 4-D parameter and the
      preprocessed inputs in ``torch.channels_last`` memory format (faster
      convolutions on recent GPUs, notably with mixed precision). The
      numbers are the same up to floating-point round-off. The modules are
      converted at the first training step, after a DDP wrapper was built
      (DDP may then warn that gradient strides differ from its buckets).
    * ``nonfinite_loss``: what a training step does when any loss term
      (segmentation, adversarial, discriminator ...) is NaN or infinite.
      ``'error'`` (default) stops with :class:`NonFiniteLossError` naming
      the iteration and the terms; ``'skip'`` steps no optimizer for that
      iteration, logs a warning and counts the skipped steps (runtime info
      ``nonfinite_skipped_steps``, kept across resume). Either way no
      weight is updated from a non-finite loss. Batch-norm running
      statistics updated by that step's forward passes are not rolled back.

    Args:
        segmentor (dict): Config of the segmentor, e.g. ``_base_.model``.
        data_preprocessor (dict, optional): Preprocessor of paired batches.
            Defaults to the segmentor's ``data_preprocessor`` config with
            ``type='UDASegDataPreProcessor'`` (the same normalisation,
            padding and ``size``, run once per domain), so a method config
            is ``dict(segmentor=_base_.model, **_base_.uda)``.
        init_cfg (dict, optional): Initialisation config.
        channels_last (bool): Use the channels-last memory format.
            Defaults to False.
        nonfinite_loss (str): ``'error'`` or ``'skip'``. Defaults to
            ``'error'``.
        pretrained (str, optional): Passed on to the segmentor, as mmseg's
            segmentors take it (``mmseg.apis.init_model`` sets it to None).
        train_cfg (dict, optional): Passed on to the segmentor when given
            (``init_model`` sets it to None).
    """

    def __init__(self,
                 segmentor: ConfigType,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 channels_last: bool = False,
                 nonfinite_loss: str = 'error',
                 pretrained: Optional[str] = None,
                 train_cfg: OptConfigType = None) -> None:
        segmentor = dict(segmentor)
        if data_preprocessor is None and \
                segmentor.get('data_preprocessor') is not None:
            data_preprocessor = dict(segmentor['data_preprocessor'],
                                     type='UDASegDataPreProcessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if pretrained is not None:
            segmentor['pretrained'] = pretrained
        if train_cfg is not None:
            segmentor['train_cfg'] = train_cfg
        if nonfinite_loss not in NONFINITE_MODES:
            raise ValueError(f'nonfinite_loss must be one of '
                             f'{NONFINITE_MODES}, got {nonfinite_loss!r}')
        self.channels_last = bool(channels_last)
        self.nonfinite_loss = nonfinite_loss
        self.segmentor = MODELS.build(segmentor)

    @property
    def seg(self) -> nn.Module:
        """The segmentor, unwrapped from DDP (for non-forward calls)."""
        return unwrap(self.segmentor)

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
            TypeError: If ``weights`` is not a dict or a weight not a
                number (naming ``<name>.<level>``).
            ValueError: If ``weights`` is empty, names a level the
                segmentor does not have, or a weight is negative.
        """
        if not isinstance(weights, Mapping):
            raise TypeError(f'{name} must be a dict of level weights, e.g. '
                            f'dict(main=0.001), got {weights!r}')
        levels = {'main'} | ({'aux'} if self.seg.with_auxiliary_head
                             else set())
        if not weights or set(weights) - levels:
            raise ValueError(
                f'{name} must name adapted output levels among '
                f'{sorted(levels)}, got {dict(weights)}')
        return {level: check_weight(value, f'{name}.{level}')
                for level, value in weights.items()}

    def check_target_levels(self, trained: Iterable[str], name: str) -> None:
        """Refuse heads the target step computes but never trains.

        The target step runs every head of the segmentor; a head whose
        target output enters no loss gets no gradient from that backward,
        and DDP with ``find_unused_parameters=False`` (the shipped configs)
        then stops on 2 or more GPUs.

        Args:
            trained (Iterable[str]): Levels with a target loss.
            name (str): The argument naming them, for the error message.

        Raises:
            ValueError: If a computed level has no target loss.
        """
        if not hasattr(self.seg, 'level_names'):
            return  # not a UDAEncoderDecoder: refused when it is trained
        trained = set(trained)
        untrained = [lv for lv in self.seg.level_names() if lv not in trained]
        if untrained:
            raise ValueError(
                f'{type(self).__name__}: the segmentor computes the levels '
                f'{untrained} on target images but {name} adapts only '
                f'{sorted(trained)}: those heads would get no gradient from '
                'the target step, and DDP (find_unused_parameters=False, as '
                'the shipped configs) fails on 2 or more GPUs. Drop the '
                'head (segmentor=dict(auxiliary_head=None), the single-level '
                'network of configs/adaptseg/deeplabv2_r101_single_gta2cs.py)'
                f' or give it a weight in {name} (0 keeps it in the graph '
                'without a target loss).')

    def preprocess(self, data: dict) -> dict:
        """Preprocess a paired training batch (and set the memory format).

        With ``channels_last`` the modules are converted when first
        trained (after the discriminators etc. of a subclass exist; a
        no-op afterwards) and the inputs of both domains are made
        channels-last.

        Args:
            data (dict): A paired batch from the dataloader.

        Returns:
            dict: ``dict(source=..., target=...)`` of preprocessed domains.
        """
        data = self.data_preprocessor(data, True)
        if self.channels_last:
            if not getattr(self, '_channels_last_applied', False):
                self.to(memory_format=torch.channels_last)
                self._channels_last_applied = True
            for domain in data.values():
                domain['inputs'] = domain['inputs'].contiguous(
                    memory_format=torch.channels_last)
        return data

    def optim_wrappers(self,
                       optim_wrapper: Union[OptimWrapper, OptimWrapperDict],
                       *names: str,
                       allow_plain: bool = False) -> List[OptimWrapper]:
        """The wrappers ``names`` of a training step, checked.

        Every UDA model steps its wrappers one way (see
        :mod:`mmseg_uda.models.utils.optim_steps`): the wrapper's
        ``backward`` inside its ``optim_context`` for each loss of the
        iteration, then :meth:`step_optimizers` once. Gradient
        accumulation is refused, since one iteration backs several losses.

        Args:
            optim_wrapper (OptimWrapper | OptimWrapperDict): What the loop
                passes to ``train_step``.
            *names (str): The wrappers the step uses, in order.
            allow_plain (bool): Accept a single ``OptimWrapper`` when one
                wrapper is used.

        Returns:
            list[OptimWrapper]: The wrappers, in the order of ``names``.

        Raises:
            TypeError: If a wrapper is missing.
            ValueError: If a wrapper has ``accumulative_counts > 1``.
        """
        wrappers = training_wrappers(optim_wrapper, names,
                                     type(self).__name__, allow_plain)
        return [wrappers[name] for name in names]

    def step_optimizers(self, wrappers: Sequence[OptimWrapper],
                        log_vars: Dict[str, Tensor]) -> None:
        """Step (then zero) every wrapper, unless a loss is not finite.

        One check for the whole iteration, before any optimizer steps: a
        NaN in, say, a discriminator term stops (or skips) the segmentor's
        update too. See ``nonfinite_loss`` in the class docstring.

        Args:
            wrappers (Sequence[OptimWrapper]): The wrappers to step.
            log_vars (dict[str, Tensor]): The iteration's logged values.

        Raises:
            NonFiniteLossError: With ``nonfinite_loss='error'``.
        """
        finite = all_ranks_finite(log_vars)
        if not finite:
            handle_nonfinite(log_vars, self.nonfinite_loss)
        step_wrappers(wrappers, step=finite)

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

    def source_step(self,
                    source: dict,
                    optim_wrapper: OptimWrapper,
                    log_vars: Dict[str, Tensor],
                    feature_losses: Optional[Callable[[Sequence[Tensor]],
                                                      Dict[str,
                                                           Tensor]]] = None
                    ) -> Dict[str, Tensor]:
        """Supervised loss on a preprocessed source batch, backward.

        The heads' own ``loss_decode`` (e.g. CE main + 0.1 CE aux) on the
        logits upsampled to the label size; logged as ``src.<level>.*``.
        Gradients are accumulated, the optimizer does not step.

        Args:
            source (dict): ``inputs`` and ``data_samples`` of the source
                domain, preprocessed.
            optim_wrapper (OptimWrapper): The segmentor's wrapper.
            log_vars (dict[str, Tensor]): Logged values, updated in place.
            feature_losses (callable, optional): Called with the features
                (``extract_feat``) of the same forward pass; the loss terms
                it returns are logged as ``src.<name>`` and backed with the
                source loss, in one backward.

        Returns:
            dict[str, Tensor]: The source logits of every level (from
            ``forward(mode='levels')``), still attached to the graph.
        """
        with optim_wrapper.optim_context(self.segmentor):
            if feature_losses is None:
                levels = self.segmentor(source['inputs'],
                                        source['data_samples'],
                                        mode='levels')
                extra = {}
            else:
                levels, feats = self.segmentor(source['inputs'],
                                               source['data_samples'],
                                               mode='levels_and_feats')
                extra = feature_losses(feats)
            losses = self.seg.loss_by_levels(levels, source['data_samples'])
            loss = self.record_losses(
                {f'src.{k}': v for k, v in {**losses, **extra}.items()},
                log_vars)
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
        """Map a plain segmentor checkpoint onto ``segmentor``.

        The parts that such a checkpoint lacks (discriminators, a teacher)
        keep their values: they are entered into ``state_dict`` as they
        are, so that loading reports no missing keys for them, and one
        line says that they start from scratch.
        """
        own = [k for k in state_dict if k.startswith(prefix)]
        children = tuple(f'{prefix}{name}.' for name in self._modules)
        if own and not any(k.startswith(children) for k in own):
            for key in own:
                state_dict[f'{prefix}segmentor.{key[len(prefix):]}'] = \
                    state_dict.pop(key)
            fresh = []
            for name, child in self._modules.items():
                if name in ('segmentor', 'data_preprocessor') or \
                        child is None:
                    continue
                kept = unwrap(child).state_dict(prefix=f'{prefix}{name}.')
                if kept:
                    fresh.append(name)
                    for key, value in kept.items():
                        state_dict.setdefault(key, value)
            print_log(
                'plain segmentor checkpoint: loaded into `segmentor`' +
                (f'; {", ".join(fresh)} start from scratch' if fresh else ''),
                logger='current', level=logging.INFO)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
