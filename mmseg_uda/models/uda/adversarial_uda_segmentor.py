"""Output-space adversarial UDA (AdaptSegNet), the base of ADVENT."""
import logging
from typing import Dict, Mapping, Optional, Tuple, Union

import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.optim import OptimWrapperDict
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from mmseg_uda.utils.config_check import LEVELS

from ..losses.gan_loss import build_gan_loss
from ..utils import set_requires_grad, unwrap
from .base_uda_segmentor import BaseUDASegmentor

SOURCE_LABEL = 0.0
TARGET_LABEL = 1.0


class LevelDiscriminators(nn.ModuleDict):
    """One discriminator per adapted output level, called in one forward.

    Going through ``forward`` (not ``self[level]``) lets a DDP wrapper of
    the whole set sync the discriminators' gradients.
    """

    def forward(self, inputs: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        """Apply the discriminator of each level to its input."""
        return {level: self[level](x) for level, x in inputs.items()}


@MODELS.register_module()
class AdversarialUDASegmentor(BaseUDASegmentor):
    """AdaptSegNet's output-space adversarial adaptation.

    One training iteration (``train_step``), as the originals:

    1. segmentation loss on the source batch (the heads' ``loss_decode``:
       CE main + 0.1 CE aux), backward;
    2. discriminators frozen: adversarial loss on the target batch, asking
       each discriminator to call the target prediction "source"
       (``adv_weights``, e.g. 0.001 main, 0.0002 aux), backward;
    3. discriminators unfrozen, each trained on the detached source and
       target predictions (source = 0, target = 1), each term halved,
       backward;
    4. every optimizer steps.

    **Self-training (BDL's SSL).** With ``ssl_weights`` (BDL: 1 on the main
    output), when the target samples carry label maps (pseudo-labels loaded
    by the target pipeline, e.g.
    :class:`~mmseg_uda.datasets.transforms.LoadPseudoLabels`), step 2 adds
    the heads' segmentation loss on them; pixels labelled 255 are ignored.
    Batches without target labels (e.g. before the first pseudo-label round)
    train without it. Without ``ssl_weights`` target labels are never used.

    Predictions are upsampled (bilinear, ``align_corners=True``) to the
    input size before the discriminator sees them, as the originals do
    (``disc_input_size='input'``); ``disc_input_size='logits'`` feeds them
    at the logits' resolution instead (an eighth of the input size per side
    for DeepLab-v2: far less discriminator work, not the originals'
    recipe). What it sees (:meth:`discriminator_input`, softmax here) and
    the GAN objective (:meth:`gan_loss`) are small methods a variant
    overrides. The target inputs of step 2 are reused, detached, in
    step 3.

    Args:
        segmentor (dict): Config of a ``UDAEncoderDecoder``.
        discriminator (dict): Config of one discriminator; one is built per
            adapted level. ``in_channels`` defaults to the segmentor's
            number of classes.
        adv_weights (dict[str, float]): Adapted levels (``'main'``,
            ``'aux'``) and the weights of their adversarial losses. Every
            level the segmentor has must be adapted (a weight of 0 is
            allowed): a head without target loss is refused at build,
            since DDP fails on it.
        gan_loss (str | dict): ``'vanilla'`` (BCE with logits) or
            ``'lsgan'`` (least squares), or the config of a GAN loss
            (default type :class:`~mmseg_uda.models.losses.GANLoss`).
        ssl_weights (dict[str, float], optional): Levels trained on target
            pseudo-labels and the weights of their losses (on top of each
            head's own loss weight), e.g. ``dict(main=1.0)``. None (default):
            no self-training, target labels are ignored.
        disc_input_size (str): ``'input'`` (the originals: predictions
            upsampled to the input size) or ``'logits'`` (as the segmentor
            outputs them). Defaults to ``'input'``.
        data_preprocessor (dict, optional): A ``UDASegDataPreProcessor``.
        init_cfg (dict, optional): Initialisation config.
        **kwargs: Training options of :class:`BaseUDASegmentor`
            (``channels_last``, ``nonfinite_loss``).
    """

    OPTION_KEYS = dict(adv_weights=LEVELS, ssl_weights=LEVELS)
    DISC_INPUT_SIZES = ('input', 'logits')

    def __init__(self,
                 segmentor: ConfigType,
                 discriminator: ConfigType,
                 adv_weights: Mapping[str, float] = dict(
                     main=0.001, aux=0.0002),
                 gan_loss: Union[str, ConfigType] = 'vanilla',
                 ssl_weights: Optional[Mapping[str, float]] = None,
                 disc_input_size: str = 'input',
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 **kwargs) -> None:
        super().__init__(segmentor, data_preprocessor, init_cfg, **kwargs)
        if disc_input_size not in self.DISC_INPUT_SIZES:
            raise ValueError(
                f'disc_input_size must be one of {self.DISC_INPUT_SIZES}, '
                f'got {disc_input_size!r}')
        self.disc_input_size = disc_input_size
        self.adv_weights = self.check_levels(adv_weights, 'adv_weights')
        self.check_target_levels(self.adv_weights, 'adv_weights')
        self.gan_loss = build_gan_loss(gan_loss)
        self.ssl_weights = {} if ssl_weights is None else \
            self.check_levels(ssl_weights, 'ssl_weights')
        disc_cfg = dict(discriminator)
        disc_cfg.setdefault('in_channels', self.seg.num_classes)
        self.discriminators = LevelDiscriminators(
            {level: MODELS.build(disc_cfg)
             for level in self.adv_weights})

    # -- the maths a variant overrides ------------------------------------
    def discriminator_input(self, logits: Tensor) -> Tensor:
        """What the discriminator sees: the softmax of the logits."""
        return F.softmax(logits, dim=1)

    @property
    def gan_loss_type(self) -> str:
        """The GAN objective's type (``'vanilla'`` or ``'lsgan'``)."""
        return self.gan_loss.gan_type

    def discriminator_accuracy(self, logits: Tensor, label: float) -> Tensor:
        """Fraction of discriminator outputs on the side of ``label``."""
        said_target = self.gan_loss.score(logits) > 0.5
        return (said_target == bool(label)).float().mean() * 100

    def self_training_losses(self, levels: Dict[str, Tensor],
                             data_samples: SampleList) -> Dict[str, Tensor]:
        """Weighted segmentation losses on target pseudo-labels.

        Args:
            levels (dict[str, Tensor]): Target logits of every level.
            data_samples (list[SegDataSample]): Target samples.

        Returns:
            dict[str, Tensor]: ``tgt.<level>.loss_ce`` (weighted) and
            ``tgt.<level>.acc_seg`` when self-training is on and every sample
            carries a label map; empty otherwise. A batch where only some
            samples carry labels (a round switched while it was loading) is
            trained without the term, with a warning.
        """
        labelled = ['gt_sem_seg' in s for s in data_samples]
        if not self.ssl_weights or not any(labelled):
            return {}
        if not all(labelled):
            print_log(
                'target batch partly pseudo-labelled (labels switched while '
                'it was loading): no self-training loss for it',
                logger='current', level=logging.WARNING)
            return {}
        losses = self.seg.loss_by_levels(levels, data_samples,
                                         names=list(self.ssl_weights))
        for key in losses:
            if 'loss' in key:
                losses[key] = losses[key] * self.ssl_weights[
                    key.split('.')[0]]
        return {f'tgt.{k}': v for k, v in losses.items()}

    # -- the training step ---------------------------------------------------
    def _discriminator_inputs(self, levels: Dict[str, Tensor],
                              size: Tuple[int],
                              detach: bool = False) -> Dict[str, Tensor]:
        """Discriminator inputs of the adapted levels (at the input size,
        or at the logits' size with ``disc_input_size='logits'``)."""
        out = {}
        for level in self.adv_weights:
            logits = levels[level].detach() if detach else levels[level]
            if self.disc_input_size == 'input':
                logits = resize(logits, size=size, mode='bilinear',
                                align_corners=True)
            out[level] = self.discriminator_input(logits)
        return out

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One iteration of the originals' adversarial training.

        Args:
            data (dict): A paired batch ``dict(source=..., target=...)``.
            optim_wrapper (OptimWrapperDict): Wrappers ``segmentor`` and
                ``discriminators``.

        Returns:
            dict[str, Tensor]: Every loss term and the discriminator
            accuracies, for logging.
        """
        seg_optim, disc_optim = self.optim_wrappers(
            optim_wrapper, 'segmentor', 'discriminators')
        data = self.preprocess(data)
        src, tgt = data['source'], data['target']
        src_size = tuple(src['inputs'].shape[2:])
        tgt_size = tuple(tgt['inputs'].shape[2:])
        log_vars: Dict[str, Tensor] = {}

        # 1. supervised loss on the source domain
        src_levels = self.source_step(src, seg_optim, log_vars)

        # 2. fool the frozen discriminators on the target domain; they are
        # called unwrapped: frozen, they have no gradients to sync.
        discriminators = unwrap(self.discriminators)
        set_requires_grad(discriminators, False)
        with seg_optim.optim_context(self.segmentor):
            tgt_levels = self.segmentor(tgt['inputs'], tgt['data_samples'],
                                        mode='levels')
            tgt_disc_inputs = self._discriminator_inputs(tgt_levels,
                                                         tgt_size)
            outs = discriminators(tgt_disc_inputs)
            terms = {
                f'tgt.{level}.loss_adv':
                self.adv_weights[level] * self.gan_loss(out, SOURCE_LABEL)
                for level, out in outs.items()
            }
            terms.update(self.self_training_losses(tgt_levels,
                                                   tgt['data_samples']))
            loss = self.record_losses(terms, log_vars)
        seg_optim.backward(loss)

        # 3. train the discriminators on detached predictions (the target
        # inputs of step 2, detached: no second upsampling and softmax)
        set_requires_grad(discriminators, True)
        for domain, label in (('src', SOURCE_LABEL), ('tgt', TARGET_LABEL)):
            with disc_optim.optim_context(self.discriminators):
                if domain == 'src':
                    inputs = self._discriminator_inputs(
                        src_levels, src_size, detach=True)
                else:
                    inputs = {level: x.detach()
                              for level, x in tgt_disc_inputs.items()}
                outs = self.discriminators(inputs)
                terms = {}
                for level, out in outs.items():
                    terms[f'disc.{level}.loss_{domain}'] = \
                        self.gan_loss(out, label) / 2
                    terms[f'disc.{level}.acc_{domain}'] = \
                        self.discriminator_accuracy(out.detach(), label)
                loss = self.record_losses(terms, log_vars)
            disc_optim.backward(loss)

        # 4. step every optimizer (none if a loss is not finite)
        self.step_optimizers((seg_optim, disc_optim), log_vars)
        return log_vars
