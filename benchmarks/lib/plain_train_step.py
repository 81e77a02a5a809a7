"""The training steps of the supported models, restated in plain PyTorch.

Each step takes the SAME module objects (backbone, heads, discriminators)
and the SAME ``torch.optim`` optimizers as the runner's model and optimizer
wrappers, and the same collated batch; it normalises the inputs with tensor
ops, runs the modules directly and calls ``backward``/``step``/
``zero_grad`` itself: no runner, no hooks, no OptimWrapper, no data
preprocessor. Used as the reference side of the training-step benchmark;
the equivalence tests show it computes what our ``train_step`` computes.
"""
import contextlib
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .plain_inputs import (HeadCrossEntropy, PlainBatchInputs,
                           UnsupportedModel, gan_loss, mean_entropy,
                           self_information, total, upsample)

SOURCE_LABEL = 0.0
TARGET_LABEL = 1.0


def _unwrap(module: nn.Module) -> nn.Module:
    return getattr(module, 'module', module)


def plain_optimizer(optim_wrapper, name: Optional[str] = None
                    ) -> Tuple[torch.optim.Optimizer, bool, Optional[str]]:
    """The torch optimizer inside a wrapper and whether it runs AMP.

    Args:
        optim_wrapper (OptimWrapper | OptimWrapperDict): The runner's.
        name (str, optional): The wrapper's key in an ``OptimWrapperDict``;
            a plain ``OptimWrapper`` is accepted for ``'segmentor'``.

    Returns:
        tuple: the optimizer, whether the wrapper is an
        ``AmpOptimWrapper`` and its autocast dtype name (None: default).

    Raises:
        UnsupportedModel: For wrapper types, gradient clipping or gradient
            accumulation that the plain step does not restate.
    """
    from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
    wrapper = optim_wrapper
    if isinstance(optim_wrapper, OptimWrapperDict):
        if name not in optim_wrapper.optim_wrappers:
            raise UnsupportedModel(f'no optimizer wrapper {name!r}')
        wrapper = optim_wrapper[name]
    if type(wrapper) not in (OptimWrapper, AmpOptimWrapper):
        raise UnsupportedModel(f'{type(wrapper).__name__} is not restated')
    if wrapper.clip_grad_kwargs:
        raise UnsupportedModel('gradient clipping is not restated')
    if getattr(wrapper, '_accumulative_counts', 1) != 1:
        raise UnsupportedModel('gradient accumulation is not restated')
    amp = isinstance(wrapper, AmpOptimWrapper)
    dtype = getattr(wrapper, 'cast_dtype', None) if amp else None
    return wrapper.optimizer, amp, dtype


class PlainSegmentor:
    """Backbone (+ neck) and heads of an ``EncoderDecoder``, run directly.

    Args:
        segmentor (nn.Module): An mmseg ``EncoderDecoder`` or our
            ``UDAEncoderDecoder``.
    """

    def __init__(self, segmentor: nn.Module) -> None:
        from mmseg.models.segmentors import EncoderDecoder

        from mmseg_uda.models.segmentors import UDAEncoderDecoder
        segmentor = _unwrap(segmentor)
        if type(segmentor) not in (EncoderDecoder, UDAEncoderDecoder):
            raise UnsupportedModel(
                f'segmentor {type(segmentor).__name__} is not restated')
        self.backbone = segmentor.backbone
        self.neck = segmentor.neck if segmentor.with_neck else None
        self.heads = {'main': segmentor.decode_head}
        if segmentor.with_auxiliary_head:
            aux = segmentor.auxiliary_head
            if isinstance(aux, nn.ModuleList):
                self.heads.update({f'aux_{i}': h for i, h in enumerate(aux)})
            else:
                self.heads['aux'] = aux
        self.losses = {k: HeadCrossEntropy(h) for k, h in self.heads.items()}

    def levels(self, inputs: Tensor) -> Dict[str, Tensor]:
        """Logits of every head from one backbone pass."""
        feats = self.backbone(inputs)
        if self.neck is not None:
            feats = self.neck(feats)
        return {name: head(feats) for name, head in self.heads.items()}

    def source_losses(self, levels: Dict[str, Tensor], labels: Tensor,
                      prefix: str, names=None) -> Dict[str, Tensor]:
        """The heads' weighted CE, named ``<prefix><level>.loss_ce``."""
        return {f'{prefix}{name}.loss_ce': self.losses[name](levels[name],
                                                             labels)
                for name in (names if names is not None else levels)}


class PlainStep:
    """Shared parts: inputs, autocast and the backward/step of one
    optimizer (with a ``GradScaler`` per optimizer under AMP)."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.device = torch.device(device)
        channels_last = bool(getattr(model, 'channels_last', False))
        if channels_last:  # what the UDA model does on its first step
            model.to(memory_format=torch.channels_last)
        self.inputs = PlainBatchInputs(model.data_preprocessor, self.device,
                                       channels_last)
        self.amp = False
        self.amp_dtype = None
        self.scalers: Dict[int, torch.amp.GradScaler] = {}

    def _use(self, optim_wrapper, name: str) -> torch.optim.Optimizer:
        optimizer, amp, dtype = plain_optimizer(optim_wrapper, name)
        if amp:
            self.amp, self.amp_dtype = True, dtype
            self.scalers[id(optimizer)] = torch.amp.GradScaler(
                self.device.type)
        return optimizer

    def autocast(self):
        """``torch.autocast`` under AMP, else a no-op context."""
        if not self.amp:
            return contextlib.nullcontext()
        dtype = getattr(torch, self.amp_dtype) if isinstance(
            self.amp_dtype, str) else self.amp_dtype
        return torch.autocast(self.device.type, dtype=dtype)

    def backward(self, loss: Tensor, optimizer) -> None:
        """``loss.backward()`` (scaled under AMP)."""
        scaler = self.scalers.get(id(optimizer))
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def step(self, optimizer) -> None:
        """``optimizer.step()`` (through its scaler under AMP), then
        ``zero_grad()``."""
        scaler = self.scalers.get(id(optimizer))
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
            scaler.update()
        optimizer.zero_grad()

    def __call__(self, batch: dict) -> Dict[str, Tensor]:
        raise NotImplementedError


class PlainSegmentorStep(PlainStep):
    """Source-only training of an ``EncoderDecoder``: heads' CE, backward,
    step."""

    def __init__(self, model: nn.Module, optim_wrapper,
                 device: torch.device) -> None:
        super().__init__(model, device)
        self.seg = PlainSegmentor(model)
        self.optimizer = self._use(optim_wrapper, 'segmentor')

    def __call__(self, batch: dict) -> Dict[str, Tensor]:
        inputs, labels = self.inputs(batch)
        with self.autocast():
            levels = self.seg.levels(inputs)
            terms = self.seg.source_losses(levels, labels, '')
            terms = {k.replace('main.', 'decode.', 1): v
                     for k, v in terms.items()}
            loss = total(terms)
        self.backward(loss, self.optimizer)
        self.step(self.optimizer)
        return {k: v.detach() for k, v in terms.items()}


class PlainAdversarialStep(PlainStep):
    """AdaptSegNet / AdvEnt: source CE; frozen discriminators fooled on the
    target (+ BDL's self-training CE); discriminators trained on detached
    predictions; both optimizers step.

    Args:
        model (nn.Module): An ``AdversarialUDASegmentor`` or
            ``AdvEntUDASegmentor``.
        optim_wrapper (OptimWrapperDict): The runner's wrappers.
        device (torch.device): Where the model runs.
        disc_input (Callable): Softmax (AdaptSegNet) or the
            self-information map of the softmax (AdvEnt).
    """

    def __init__(self, model: nn.Module, optim_wrapper,
                 device: torch.device,
                 disc_input: Callable[[Tensor], Tensor]) -> None:
        super().__init__(model, device)
        self.seg = PlainSegmentor(model.segmentor)
        discs = _unwrap(model.discriminators)
        self.discs = {level: discs[level] for level in model.adv_weights}
        self.disc_params = list(discs.parameters())
        self.adv_weights = dict(model.adv_weights)
        self.ssl_weights = dict(model.ssl_weights)
        self.kind = model.gan_loss_type
        # 'input' (the originals): upsampled to the input size first
        self.upsample_disc = getattr(model, 'disc_input_size',
                                     'input') == 'input'
        self.disc_input = disc_input
        self.seg_optimizer = self._use(optim_wrapper, 'segmentor')
        self.disc_optimizer = self._use(optim_wrapper, 'discriminators')

    def _set_requires_grad(self, flag: bool) -> None:
        for param in self.disc_params:
            param.requires_grad_(flag)

    def _disc_outputs(self, levels: Dict[str, Tensor], size,
                      detach: bool) -> Dict[str, Tensor]:
        out = {}
        for level, disc in self.discs.items():
            logits = levels[level].detach() if detach else levels[level]
            if self.upsample_disc:
                logits = upsample(logits, size)
            out[level] = disc(self.disc_input(logits))
        return out

    def __call__(self, batch: dict) -> Dict[str, Tensor]:
        src_x, src_y = self.inputs(batch['source'])
        tgt_x, tgt_y = self.inputs(batch['target'])
        if src_y is None:
            raise ValueError('the source batch has no gt_sem_seg')
        src_size, tgt_size = src_x.shape[2:], tgt_x.shape[2:]
        # 1. source CE
        with self.autocast():
            src_levels = self.seg.levels(src_x)
            terms = self.seg.source_losses(src_levels, src_y, 'src.')
            loss = total(terms)
        self.backward(loss, self.seg_optimizer)
        # 2. fool the frozen discriminators on the target
        self._set_requires_grad(False)
        with self.autocast():
            tgt_levels = self.seg.levels(tgt_x)
            tgt_terms = {
                f'tgt.{level}.loss_adv':
                self.adv_weights[level] * gan_loss(out, SOURCE_LABEL,
                                                   self.kind)
                for level, out in self._disc_outputs(
                    tgt_levels, tgt_size, False).items()
            }
            if self.ssl_weights and tgt_y is not None:
                ssl = self.seg.source_losses(tgt_levels, tgt_y, 'tgt.',
                                             list(self.ssl_weights))
                tgt_terms.update({
                    k: v * self.ssl_weights[k.split('.')[1]]
                    for k, v in ssl.items()})
            loss = total(tgt_terms)
        self.backward(loss, self.seg_optimizer)
        terms.update(tgt_terms)
        # 3. the discriminators on detached predictions
        self._set_requires_grad(True)
        for domain, levels, size, label in (
                ('src', src_levels, src_size, SOURCE_LABEL),
                ('tgt', tgt_levels, tgt_size, TARGET_LABEL)):
            with self.autocast():
                disc_terms = {
                    f'disc.{level}.loss_{domain}':
                    gan_loss(out, label, self.kind) / 2
                    for level, out in self._disc_outputs(
                        levels, size, True).items()
                }
                loss = total(disc_terms)
            self.backward(loss, self.disc_optimizer)
            terms.update(disc_terms)
        # 4. step both optimizers
        self.step(self.seg_optimizer)
        self.step(self.disc_optimizer)
        return {k: v.detach() for k, v in terms.items()}


class PlainMinEntStep(PlainStep):
    """ADVENT's MinEnt: source CE; weighted mean entropy of the upsampled
    target softmax; the segmentor's optimizer steps."""

    def __init__(self, model: nn.Module, optim_wrapper,
                 device: torch.device) -> None:
        super().__init__(model, device)
        self.seg = PlainSegmentor(model.segmentor)
        self.ent_weights = dict(model.ent_weights)
        entropy = model.loss_entropy
        self.use_softmax = bool(entropy.use_softmax)
        self.entropy_weight = float(entropy.loss_weight)
        self.optimizer = self._use(optim_wrapper, 'segmentor')

    def __call__(self, batch: dict) -> Dict[str, Tensor]:
        src_x, src_y = self.inputs(batch['source'])
        tgt_x, _ = self.inputs(batch['target'])
        if src_y is None:
            raise ValueError('the source batch has no gt_sem_seg')
        tgt_size = tgt_x.shape[2:]
        with self.autocast():
            src_levels = self.seg.levels(src_x)
            terms = self.seg.source_losses(src_levels, src_y, 'src.')
            loss = total(terms)
        self.backward(loss, self.optimizer)
        with self.autocast():
            tgt_levels = self.seg.levels(tgt_x)
            tgt_terms = {}
            for level, weight in self.ent_weights.items():
                logits = upsample(tgt_levels[level], tgt_size)
                probs = F.softmax(logits, dim=1) if self.use_softmax \
                    else logits
                tgt_terms[f'tgt.{level}.loss_ent'] = weight * (
                    self.entropy_weight * mean_entropy(probs))
            loss = total(tgt_terms)
        self.backward(loss, self.optimizer)
        terms.update(tgt_terms)
        self.step(self.optimizer)
        return {k: v.detach() for k, v in terms.items()}


def softmax_input(logits: Tensor) -> Tensor:
    """AdaptSegNet's discriminator input."""
    return F.softmax(logits, dim=1)


def entropy_input(logits: Tensor) -> Tensor:
    """AdvEnt's discriminator input."""
    return self_information(F.softmax(logits, dim=1))


def build_plain_step(model: nn.Module, optim_wrapper,
                     device: torch.device) -> PlainStep:
    """The plain re-statement of ``model.train_step``.

    Args:
        model (nn.Module): The runner's model (possibly DDP-wrapped).
        optim_wrapper (OptimWrapper | OptimWrapperDict): The runner's.
        device (torch.device): Where the model runs.

    Returns:
        PlainStep: A callable taking the collated batch.

    Raises:
        UnsupportedModel: When the model type (exactly) or its settings
            have no re-statement.
    """
    from mmseg.models.segmentors import EncoderDecoder

    from mmseg_uda.models.segmentors import UDAEncoderDecoder
    from mmseg_uda.models.uda import (AdversarialUDASegmentor,
                                      AdvEntUDASegmentor, MinEntUDASegmentor)
    model = _unwrap(model)
    kind = type(model)
    if kind is AdversarialUDASegmentor:
        return PlainAdversarialStep(model, optim_wrapper, device,
                                    softmax_input)
    if kind is AdvEntUDASegmentor:
        return PlainAdversarialStep(model, optim_wrapper, device,
                                    entropy_input)
    if kind is MinEntUDASegmentor:
        return PlainMinEntStep(model, optim_wrapper, device)
    if kind in (EncoderDecoder, UDAEncoderDecoder):
        return PlainSegmentorStep(model, optim_wrapper, device)
    raise UnsupportedModel(f'no plain re-statement of {kind.__name__}')
