"""BDL's image translator: CycleGAN plus a segmentation perceptual loss."""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptSampleList
from torch import Tensor

from ..losses.gan_loss import build_gan_loss
from ..utils import (set_requires_grad, step_wrappers, training_wrappers,
                     unwrap)
from ..utils.unwrapped_state_dict import UnwrappedStateDictMixin
from .cycle_networks import (DIRECTIONS, S2T, T2S, CycleGenerators,
                             DomainDiscriminators)
from .image_pool import ImagePool
from .perceptual_loss import (build_frozen_segmentor, perceptual_distance,
                              segmentor_input_format,
                              unit_rgb_to_segmentor_input)

REAL_LABEL, FAKE_LABEL = 1.0, 0.0


@MODELS.register_module()
class CycleGANTranslator(UnwrappedStateDictMixin, BaseModel):
    """CycleGAN between source and target images with BDL's perceptual loss.

    Children: ``generators`` (``source_to_target``: G_A of BDL,
    ``target_to_source``: G_B) and ``discriminators`` (``target``: D_A,
    judges target images; ``source``: D_B), each trained by its own
    optimizer (an ``OptimWrapperDict`` with ``generators`` and
    ``discriminators``, e.g. from ``MultiOptimWrapperConstructor``), and
    ``pools`` (an :class:`ImagePool` of fakes per discriminator).

    One iteration (:meth:`train_step`), as BDL's ``optimize_parameters``:

    1. discriminators frozen; generator loss = GAN(D_t(G_s2t(s)), real) +
       GAN(D_s(G_t2s(t)), real) + ``cycle_weight`` * (L1(rec_s, s) +
       L1(rec_t, t)) + ``cycle_weight * identity_weight`` *
       (L1(G_s2t(t), t) + L1(G_t2s(s), s)) + ``perceptual_rec_weight`` *
       (d(sem(rec_s), sem(s)) + d(sem(rec_t), sem(t))) +
       ``perceptual_translation_weight`` * (d(sem(G_s2t(s)), sem(s)) +
       d(sem(G_t2s(t)), sem(t))); backward, step;
    2. each discriminator: 0.5 * (GAN(D(real), real) + GAN(D(pool(fake)),
       fake)) with D_t on target images and pooled G_s2t(s), D_s on source
       images and pooled G_t2s(t); backward, step.

    Each step is the wrapper's ``backward`` in its ``optim_context``, then
    a step, as every model of the package steps (see
    :mod:`mmseg_uda.models.utils.optim_steps`; gradient accumulation is
    refused).

    ``sem`` is the frozen perceptual segmentor's main logits at feature
    resolution for the image in the segmentor's input format, and ``d``
    :func:`perceptual_distance`. BDL's perceptual network
    (``cyclegan/deeplab.py``) is its segmentor whose classifier returns
    inside its loop: it sums only the convs of rates 6 and 12, where the
    segmentor itself (``model/deeplab.py``) sums all four. Configure it
    with ``perceptual_segmentor.dilations=(6, 12)`` and weights holding
    the first two convs (``tools/model_converters/original_deeplabv2.py
    --num-rates 2``). The perceptual segmentor is not a child
    module: it is not in the state dict (checkpoints stay small and load
    without it), no optimizer sees it, it stays in eval mode with
    ``requires_grad=False``, and it follows the model's device and dtype.

    Inputs are RGB in [-1, 1]: use a ``UDASegDataPreProcessor`` with
    ``mean=std=[127.5] * 3`` and ``bgr_to_rgb=True``.

    Args:
        generator (dict): Config of one generator (both directions).
        discriminator (dict): Config of one discriminator (both domains).
        perceptual_segmentor (dict, optional): ``dict(config=PATH,
            checkpoint=PATH or None, dilations=None)``: the segmentor of the
            config (its ``model.segmentor`` for a UDA model) with that
            checkpoint (UDA checkpoints' ``segmentor.*`` keys are mapped);
            ``dilations`` replaces its main classifier's rates (BDL's
            perceptual DeepLab sums only rates ``(6, 12)``). None disables
            the perceptual terms (plain CycleGAN).
        gan_loss (str | dict): ``'lsgan'`` (MSE, CycleGAN's default) or
            ``'vanilla'`` (BCE with logits), or the config of a GAN loss
            (default type :class:`~mmseg_uda.models.losses.GANLoss`).
        cycle_weight (float): CycleGAN's ``lambda_A = lambda_B``.
        identity_weight (float): CycleGAN's ``lambda_identity``, relative
            to ``cycle_weight``.
        perceptual_rec_weight (float): Weight of the reconstruction terms
            (BDL: ``lambda_A * lambda_semantic`` = 10).
        perceptual_translation_weight (float): Weight of the translation
            terms (BDL: 0.1).
        pool_size (int): Fakes kept per discriminator. Defaults to 50.
        pool_seed (int, optional): Seed of the pools (see
            :class:`ImagePool`).
        data_preprocessor (dict, optional): A ``UDASegDataPreProcessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 generator: ConfigType,
                 discriminator: ConfigType,
                 perceptual_segmentor: Optional[dict] = None,
                 gan_loss: Union[str, ConfigType] = 'lsgan',
                 cycle_weight: float = 10.0,
                 identity_weight: float = 0.5,
                 perceptual_rec_weight: float = 10.0,
                 perceptual_translation_weight: float = 0.1,
                 pool_size: int = 50,
                 pool_seed: Optional[int] = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.gan_loss = build_gan_loss(gan_loss)
        self.cycle_weight = cycle_weight
        self.identity_weight = identity_weight
        self.perceptual_rec_weight = perceptual_rec_weight
        self.perceptual_translation_weight = perceptual_translation_weight
        self.generators = CycleGenerators(
            {d: MODELS.build(generator) for d in DIRECTIONS})
        self.discriminators = DomainDiscriminators(
            {d: MODELS.build(discriminator) for d in ('target', 'source')})
        self.pools = nn.ModuleDict({
            d: ImagePool(pool_size, seed=pool_seed)
            for d in ('target', 'source')
        })
        frozen = None
        if perceptual_segmentor is not None:
            unknown = set(perceptual_segmentor) - {
                'config', 'checkpoint', 'dilations'}
            if 'config' not in perceptual_segmentor or unknown:
                raise KeyError(
                    'perceptual_segmentor must be dict(config=PATH, '
                    'checkpoint=PATH or None, dilations=None), got '
                    f'{perceptual_segmentor}')
            frozen = build_frozen_segmentor(
                perceptual_segmentor['config'],
                perceptual_segmentor.get('checkpoint'),
                perceptual_segmentor.get('dilations'))
            # The segmentor's input format, read once: non-persistent
            # buffers follow the device without a host round trip per call.
            fmt = segmentor_input_format(frozen)
            self.register_buffer('_perceptual_mean', fmt['mean'],
                                 persistent=False)
            self.register_buffer('_perceptual_std', fmt['std'],
                                 persistent=False)
            self._perceptual_bgr = fmt['bgr']
        # Not registered as a child: outside state_dict, optimizers, DDP.
        object.__setattr__(self, '_perceptual_segmentor', frozen)

    # -- the frozen segmentor -------------------------------------------------
    @property
    def perceptual_segmentor(self) -> Optional[nn.Module]:
        """The frozen segmentor (None without perceptual terms)."""
        return self._perceptual_segmentor

    def _apply(self, fn, *args, **kwargs):
        """Move/cast the frozen segmentor with the model."""
        super()._apply(fn, *args, **kwargs)
        if self._perceptual_segmentor is not None:
            self._perceptual_segmentor._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True) -> 'CycleGANTranslator':
        """Set the mode; the frozen segmentor always stays in eval mode."""
        super().train(mode)
        if self._perceptual_segmentor is not None:
            self._perceptual_segmentor.eval()
        return self

    def semantic_logits(self, images: Tensor) -> Tensor:
        """Frozen segmentor's main logits (feature resolution).

        Args:
            images (Tensor): RGB images in [-1, 1].

        Returns:
            Tensor: Logits, differentiable in ``images`` (not in the
            segmentor's parameters).
        """
        seg = self._perceptual_segmentor
        if seg is None:
            raise RuntimeError('no perceptual_segmentor was configured')
        inputs = unit_rgb_to_segmentor_input(
            images, mean=self._perceptual_mean, std=self._perceptual_std,
            bgr=self._perceptual_bgr)
        return seg(inputs, mode='tensor')

    # -- the maths ---------------------------------------------------------
    def generator_losses(self, source: Tensor, target: Tensor,
                         images: Dict[str, Tensor],
                         discriminators: nn.Module) -> Dict[str, Tensor]:
        """Every term of the generator loss, weighted, by log key."""
        outs = discriminators(dict(target=images['s2t'],
                                   source=images['t2s']))
        terms = {
            'gen.loss_gan_s2t': self.gan_loss(outs['target'], REAL_LABEL),
            'gen.loss_gan_t2s': self.gan_loss(outs['source'], REAL_LABEL),
            'gen.loss_cycle_source':
            self.cycle_weight * F.l1_loss(images['rec_source'], source),
            'gen.loss_cycle_target':
            self.cycle_weight * F.l1_loss(images['rec_target'], target),
        }
        if 'idt_source' in images:
            weight = self.cycle_weight * self.identity_weight
            terms['gen.loss_identity_source'] = weight * F.l1_loss(
                images['idt_source'], source)
            terms['gen.loss_identity_target'] = weight * F.l1_loss(
                images['idt_target'], target)
        if self._perceptual_segmentor is not None:
            terms.update(self.perceptual_losses(source, target, images))
        return terms

    def perceptual_losses(self, source: Tensor, target: Tensor,
                          images: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """BDL's semantic terms on reconstructions and translations."""
        with torch.no_grad():
            sem_source = self.semantic_logits(source)
            sem_target = self.semantic_logits(target)
        pairs = {
            'gen.loss_sem_rec_source': ('rec_source', sem_source,
                                        self.perceptual_rec_weight),
            'gen.loss_sem_rec_target': ('rec_target', sem_target,
                                        self.perceptual_rec_weight),
            'gen.loss_sem_s2t': ('s2t', sem_source,
                                 self.perceptual_translation_weight),
            'gen.loss_sem_t2s': ('t2s', sem_target,
                                 self.perceptual_translation_weight),
        }
        return {
            key: weight * perceptual_distance(
                self.semantic_logits(images[name]), reference)
            for key, (name, reference, weight) in pairs.items()
        }

    # -- training ----------------------------------------------------------
    def _record(self, terms: Dict[str, Tensor],
                log_vars: Dict[str, Tensor]) -> Tensor:
        """Sum the terms and add them to ``log_vars``."""
        loss, logs = self.parse_losses(terms)
        logs.pop('loss')
        log_vars.update(logs)
        return loss

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """Generator step (discriminators frozen), then discriminator step.

        Args:
            data (dict): A paired batch ``dict(source=..., target=...)``.
            optim_wrapper (OptimWrapperDict): Wrappers ``generators`` and
                ``discriminators``.

        Returns:
            dict[str, Tensor]: Every loss term, for logging.
        """
        wrappers = training_wrappers(optim_wrapper,
                                     ('generators', 'discriminators'),
                                     type(self).__name__)
        gen_optim, disc_optim = wrappers.values()
        data = self.data_preprocessor(data, True)
        source = data['source']['inputs']
        target = data['target']['inputs']
        log_vars: Dict[str, Tensor] = {}

        # 1. generators; the frozen discriminators are called unwrapped
        discriminators = unwrap(self.discriminators)
        set_requires_grad(discriminators, False)
        with gen_optim.optim_context(self.generators):
            images = self.generators(source, target,
                                     identity=self.identity_weight > 0)
            loss = self._record(
                self.generator_losses(source, target, images,
                                      discriminators), log_vars)
        gen_optim.backward(loss)
        step_wrappers((gen_optim, ))
        set_requires_grad(discriminators, True)

        # 2. discriminators on real images and pooled, detached fakes;
        # real and fake go through in one batch (instance norm is per image)
        fakes = dict(target=self.pools['target'].query(images['s2t']),
                     source=self.pools['source'].query(images['t2s']))
        reals = dict(target=target, source=source)
        with disc_optim.optim_context(self.discriminators):
            outs = self.discriminators({
                d: torch.cat([reals[d], fakes[d]]) for d in reals})
            terms = {}
            for domain, out in outs.items():
                real, fake = out.split([len(reals[domain]),
                                        len(fakes[domain])])
                terms[f'disc.loss_{domain}'] = 0.5 * (
                    self.gan_loss(real, REAL_LABEL) +
                    self.gan_loss(fake, FAKE_LABEL))
            loss = self._record(terms, log_vars)
        disc_optim.backward(loss)
        step_wrappers((disc_optim, ))
        return log_vars

    # -- inference ---------------------------------------------------------
    def translate(self, inputs: Tensor, direction: str = S2T) -> Tensor:
        """Translate images of any size (padded to a multiple of 4).

        Args:
            inputs (Tensor): RGB images in [-1, 1], shape (N, 3, H, W).
            direction (str): ``'source_to_target'`` or
                ``'target_to_source'``.

        Returns:
            Tensor: Translated images in [-1, 1] of the input's size.
        """
        if direction not in DIRECTIONS:
            raise ValueError(f'direction must be one of {DIRECTIONS}, got '
                             f'{direction!r}')
        height, width = inputs.shape[-2:]
        pad_h, pad_w = (-height) % 4, (-width) % 4
        x = F.pad(inputs, (0, pad_w, 0, pad_h), mode='replicate') \
            if pad_h or pad_w else inputs
        out = unwrap(self.generators)[direction](x)
        return out[..., :height, :width]

    @torch.no_grad()
    def translation_pictures(self, inputs: Tensor,
                             direction: str = S2T) -> Dict[str, object]:
        """Images and frozen-segmentor predictions for pictures.

        Args:
            inputs (Tensor): RGB images in [-1, 1] of the domain
                ``direction`` starts from.
            direction (str): The translation direction.

        Returns:
            dict: ``images``: ``dict(input=..., translated=...,
            reconstructed=...)`` of RGB images in [-1, 1]; ``predictions``:
            the same keys with the perceptual segmentor's label maps
            (N, H, W) at image size (empty without a segmentor).
        """
        back = T2S if direction == S2T else S2T
        translated = self.translate(inputs, direction)
        images = dict(input=inputs, translated=translated,
                      reconstructed=self.translate(translated, back))
        predictions = {}
        seg = self._perceptual_segmentor
        if seg is not None:
            head = getattr(seg, 'decode_head', None)
            align = getattr(head, 'align_corners', False)
            for name, img in images.items():
                logits = resize(self.semantic_logits(img),
                                size=img.shape[-2:], mode='bilinear',
                                align_corners=align)
                predictions[name] = logits.argmax(dim=1)
        return dict(images=images, predictions=predictions)

    def forward(self,
                inputs: Tensor,
                data_samples: OptSampleList = None,
                mode: str = 'tensor') -> Union[Tensor, List]:
        """``mode='tensor'``: translate source images to the target domain.

        Raises:
            ValueError: For any other mode (the translator is trained with
                :meth:`train_step` and has no loss/predict modes).
        """
        if mode != 'tensor':
            raise ValueError('CycleGANTranslator only supports '
                             f"mode='tensor', got {mode!r}")
        return self.translate(inputs, S2T)
