"""Online self-training with a mean teacher and ClassMix (DACS)."""
import copy
import functools
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.structures import PixelData
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor
from torch.nn.modules.dropout import _DropoutNd

from ...utils.number_checks import check_number, check_weight
from ..data_preprocessors.normalization import preprocessor_normalization
from ..losses.feature_distance_loss import build_feature_distance_loss
from ..utils import set_requires_grad, unwrap
from ..utils.class_mix import class_mix, class_mix_masks
from ..utils.mix_augmentation import mix_augment
from ..utils.pseudo_weight_crop import (filter_valid_pseudo_region,
                                        stack_valid_pseudo_masks)
from ..utils.state_dict_exclusion import exclude_from_state_dict
from .base_uda_segmentor import BaseUDASegmentor
from .masked_consistency import MIC_DEFAULTS, build_masked_consistency


def disable_stochastic_layers(module: nn.Module) -> None:
    """Put dropout and drop-path layers in eval mode, the rest untouched."""
    for layer in module.modules():
        if isinstance(layer, (_DropoutNd, DropPath)):
            layer.eval()


@MODELS.register_module()
class DACSUDASegmentor(BaseUDASegmentor):
    """DACS: self-training on mixed images, pseudo-labelled by a mean
    teacher (the UDA method of DAFormer), with DAFormer's optional ImageNet
    feature distance and pseudo-label crop.

    The student is ``segmentor``; ``teacher`` is a second build of the same
    config, frozen (no gradients, not in the optimizer) and kept an
    exponential moving average of the student by
    :class:`~mmseg_uda.engine.hooks.MeanTeacherHook`. One iteration
    (``train_step``):

    1. source CE of the student (the heads' ``loss_decode``) and, with
       ``imnet_feature_dist``, the ImageNet feature distance (FD, below),
       backward;
    2. the teacher predicts the target images (no grad; in train mode as
       DAFormer's EMA model, i.e. BN with batch statistics, but with dropout
       and drop-path off): logits upsampled to the input size as
       ``encode_decode`` does, softmax, max probability and argmax give the
       pseudo-label; its weight is the fraction of the batch's pixels whose
       confidence is ``>= pseudo_threshold`` (one scalar per batch, as
       DAFormer); with ``pseudo_weight_ignore_top/bottom`` the weight is
       0 in that many top/bottom rows of the target image
       (:func:`~mmseg_uda.models.utils.crop_pseudo_weight`, DAFormer's
       ``filter_valid_pseudo_region``), or 0 where a target sample's
       ``valid_pseudo_mask`` is (HRDA's margins, from the loader's
       ``PseudoLabelMargins``; the two exclude each other);
    3. ClassMix (``mix='class'``): half of the classes of each source label
       are pasted from the source image onto the target image; the mixed
       label is the source label where pasted, the pseudo-label elsewhere;
       the pixel weight is 1 where pasted, the pseudo-weight elsewhere.
       Without mixing (``mix=None``) the student trains on the target image
       and its pseudo-label;
    4. the mixed image gets DACS's colour jitter and Gaussian blur
       (:func:`~mmseg_uda.models.utils.mix_augment`);
    5. the pixel-weighted CE of the student on it (each head's own
       ``loss_decode`` with the pixel weights, by the segmentor's
       :meth:`~mmseg_uda.models.segmentors.UDAEncoderDecoder.loss_by_levels`
       with ``pixel_weight``), backward;
    6. with ``mask_consistency`` (MIC), the student's pixel-weighted CE on
       the colour-augmented, block-masked target images with the target
       pseudo-labels and weights of step 2, backward; one optimizer step.

    Logged: ``src.<level>.loss_ce``, ``src.loss_imnet_feat_dist`` (with
    FD), ``mix.<level>.loss_ce`` (``tgt.`` when not mixing), their
    ``acc_seg`` and ``mix.pseudo_weight`` (the fraction of confident
    pixels, before the crop), ``masked.<level>.*`` (MIC).

    **ImageNet feature distance** (DAFormer's ``imnet_feature_dist_*``).
    ``imnet_model`` is a third build of the ``segmentor`` config, so the
    runner's ``init_weights`` gives it the ImageNet weights of the config's
    ``init_cfg`` and it keeps them: it has no gradients, is in no optimizer
    (the optimizer wrapper is built for ``segmentor`` only) and runs in eval
    mode under ``no_grad``. The student's features come from its source
    forward pass (``extract_feat`` feeding the heads, not a second backbone
    pass); the loss (e.g. :class:`~mmseg_uda.models.losses.
    FeatureDistanceLoss`) compares their last level with the frozen copy's
    on the source labels. DAFormer backs the source CE with
    ``retain_graph=True`` and then the FD; the gradients add up, so here
    their sum is backed once through the shared graph: the same gradients,
    and one backward per forward, which DDP needs to all-reduce them.

    The frozen copy is **not saved in checkpoints**: ``state_dict()`` holds
    no ``imnet_model.*`` key and loading a state dict keeps its weights and
    reports none of its keys missing
    (:func:`~mmseg_uda.models.utils.exclude_from_state_dict`). mmengine's
    runner calls ``init_weights()`` before it resumes or loads a
    checkpoint, so a resumed run re-creates the copy from the same ImageNet
    weights; those must still be at the path of the ``init_cfg``.

    Args:
        segmentor (dict): Config of a ``UDAEncoderDecoder`` (the student).
        pseudo_threshold (float): Confidence a pseudo-label needs to count
            towards the weight. Defaults to 0.968 (DACS/DAFormer).
        mix (str, optional): ``'class'`` (ClassMix) or None.
        color_jitter_strength (float): Strength of the colour jitter.
            Defaults to 0.2 (DAFormer's ``color_jitter_strength``).
        color_jitter_prob (float): Probability of the colour jitter.
            Defaults to 0.8 (DAFormer jitters when ``U(0, 1) > 0.2``, its
            ``color_jitter_probability``).
        blur_prob (float): Probability of the blur. Defaults to 0.5
            (DAFormer's ``blur=True``: when ``U(0, 1) > 0.5``). 0 disables.
        blur_sigma (Sequence[float]): Range of the blur's sigma. Defaults
            to (0.15, 1.15).
        blur_kernel_ratio (float): Blur kernel size relative to the image
            side. Defaults to 0.1.
        imnet_feature_dist (dict, optional): Config of the feature distance
            loss, e.g. ``dict(type='FeatureDistanceLoss', loss_weight=0.005,
            thing_classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18],
            scale_min_ratio=0.75)`` (DAFormer). Its ``num_classes`` and
            ``ignore_index`` default to the decode head's. None (default):
            no FD and no frozen copy.
        pseudo_weight_ignore_top (int): Rows at the top of the target image
            where the pseudo-label weight is 0. Defaults to 0 (DAFormer:
            15).
        pseudo_weight_ignore_bottom (int): Rows at the bottom, likewise.
            Defaults to 0 (DAFormer: 120).
        mask_consistency (dict, optional): MIC's options (step 6; keys and
            MIC's values in :mod:`~mmseg_uda.models.uda.masked_consistency`).
            None (default): off.
        data_preprocessor (dict, optional): A ``UDASegDataPreProcessor``;
            its ``mean``/``std`` and channel order are used by the colour
            jitter.
        init_cfg (dict, optional): Initialisation config.
        **kwargs: Training options of :class:`BaseUDASegmentor`
            (``channels_last``, ``nonfinite_loss``).
    """

    MIX_TYPES = ('class', None)
    OPTION_KEYS = dict(mask_consistency=list(MIC_DEFAULTS))

    def __init__(self,
                 segmentor: ConfigType,
                 pseudo_threshold: float = 0.968,
                 mix: Optional[str] = 'class',
                 color_jitter_strength: float = 0.2,
                 color_jitter_prob: float = 0.8,
                 blur_prob: float = 0.5,
                 blur_sigma: Sequence[float] = (0.15, 1.15),
                 blur_kernel_ratio: float = 0.1,
                 imnet_feature_dist: OptConfigType = None,
                 pseudo_weight_ignore_top: int = 0,
                 pseudo_weight_ignore_bottom: int = 0,
                 mask_consistency: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 **kwargs) -> None:
        super().__init__(segmentor, data_preprocessor, init_cfg, **kwargs)
        if mix not in self.MIX_TYPES:
            raise ValueError(
                f'mix must be one of {self.MIX_TYPES}, got {mix!r}')
        # type and range of every number, naming the option
        for name, value in (('pseudo_threshold', pseudo_threshold),
                            ('color_jitter_prob', color_jitter_prob),
                            ('blur_prob', blur_prob)):
            check_number(value, name, low=0, high=1)
        check_weight(color_jitter_strength, 'color_jitter_strength')
        check_number(blur_kernel_ratio, 'blur_kernel_ratio', low=0)
        if not isinstance(blur_sigma, (list, tuple)) or len(blur_sigma) != 2 \
                or not 0 < check_number(blur_sigma[0], 'blur_sigma[0]') \
                <= check_number(blur_sigma[1], 'blur_sigma[1]'):
            raise ValueError('blur_sigma must be a range (low, high) with '
                             f'0 < low <= high, got {blur_sigma}')
        for name, rows in (('pseudo_weight_ignore_top',
                            pseudo_weight_ignore_top),
                           ('pseudo_weight_ignore_bottom',
                            pseudo_weight_ignore_bottom)):
            if isinstance(rows, bool) or not isinstance(rows, int) or \
                    rows < 0:
                raise ValueError(f'{name} must be an integer >= 0 (a number '
                                 f'of pixel rows), got {rows!r}')
        self.pseudo_weight_ignore = (pseudo_weight_ignore_top,
                                     pseudo_weight_ignore_bottom)
        self.pseudo_threshold = pseudo_threshold
        self.mix = mix
        self.augment_cfg = dict(
            color_jitter_strength=color_jitter_strength,
            color_jitter_prob=color_jitter_prob,
            blur_prob=blur_prob,
            blur_sigma=tuple(blur_sigma),
            blur_kernel_ratio=blur_kernel_ratio)
        self.mic = build_masked_consistency(mask_consistency)
        self.teacher = MODELS.build(copy.deepcopy(segmentor))
        set_requires_grad(self.teacher, False)
        self.imnet_feature_dist = None
        if imnet_feature_dist is not None:
            self.imnet_feature_dist = build_feature_distance_loss(
                imnet_feature_dist, self.seg.decode_head)
            self.imnet_model = exclude_from_state_dict(
                MODELS.build(copy.deepcopy(segmentor)))
            set_requires_grad(self.imnet_model, False)

    @property
    def student(self) -> nn.Module:
        """The student (the trained segmentor), unwrapped from DDP."""
        return self.seg

    # -- pseudo-labels -----------------------------------------------------
    def pseudo_labels_from_logits(self,
                                  logits: Tensor) -> Tuple[Tensor, Tensor]:
        """Pseudo-labels and their weight from the teacher's logits.

        Args:
            logits (Tensor): Teacher logits (N, C, H, W) at the label size.

        Returns:
            tuple[Tensor, Tensor]: The argmax labels (N, H, W) and the
            fraction of pixels whose softmax maximum is at least
            ``pseudo_threshold`` (a 0-d tensor).
        """
        probs, labels = torch.softmax(logits.detach(), dim=1).max(dim=1)
        weight = (probs >= self.pseudo_threshold).float().mean()
        return labels, weight

    @torch.no_grad()
    def pseudo_label(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """The teacher's pseudo-labels of preprocessed target images.

        Args:
            inputs (Tensor): Target images (N, C, H, W).

        Returns:
            tuple[Tensor, Tensor]: Labels (N, H, W) and their weight.
        """
        teacher = unwrap(self.teacher)
        disable_stochastic_layers(teacher)
        logits = teacher(inputs, mode='inference_levels')['main']
        logits = resize(logits, size=inputs.shape[2:], mode='bilinear',
                        align_corners=teacher.align_corners)
        return self.pseudo_labels_from_logits(logits)

    # -- ImageNet feature distance ------------------------------------------
    def feature_distance_losses(self, inputs: Tensor, feats: Sequence[Tensor],
                                labels: Tensor) -> Dict[str, Tensor]:
        """The ImageNet feature distance of the source images.

        Args:
            inputs (Tensor): Source images (N, C, H, W), preprocessed.
            feats (Sequence[Tensor]): The student's features of ``inputs``
                (``extract_feat``), attached to the graph.
            labels (Tensor): Source labels (N, 1, H, W).

        Returns:
            dict[str, Tensor]: ``{loss_name: loss}`` of the FD loss.
        """
        imnet = unwrap(self.imnet_model)
        imnet.eval()
        with torch.no_grad():
            imnet_feats = imnet.extract_feat(inputs)
        loss = self.imnet_feature_dist(feats, imnet_feats, labels)
        return {self.imnet_feature_dist.loss_name: loss}

    # -- the student's weighted loss ---------------------------------------
    @staticmethod
    def label_samples(labels: Tensor) -> List[SegDataSample]:
        """Data samples carrying the label maps (N, H, W) of mixed images,
        for :meth:`UDAEncoderDecoder.loss_by_levels`."""
        return [SegDataSample(gt_sem_seg=PixelData(data=label[None]))
                for label in labels]

    # -- the training step ---------------------------------------------------
    def weighted_step(self, images: Tensor, labels: Tensor, weights: Tensor,
                      prefix: str, seg_optim: OptimWrapper,
                      log_vars: Dict[str, Tensor],
                      weight_losses: Optional[Callable] = None) -> None:
        """The student's pixel-weighted CE on ``images`` (``weight_losses``
        applied), logged as ``<prefix>.<level>.*``, backward."""
        with seg_optim.optim_context(self.segmentor):
            levels = self.segmentor(images, None, mode='levels')
            losses = self.seg.loss_by_levels(
                levels, self.label_samples(labels), pixel_weight=weights)
            if weight_losses is not None:
                losses = weight_losses(losses)
            loss = self.record_losses(
                {f'{prefix}.{k}': v for k, v in losses.items()}, log_vars)
        seg_optim.backward(loss)

    def augment(self, inputs: Tensor) -> Tensor:
        """DACS's colour jitter and blur, in the preprocessor's
        normalisation."""
        preprocessor = self.data_preprocessor
        norm = preprocessor_normalization(preprocessor)
        mean, std = norm if norm is not None else (inputs.new_zeros(3),
                                                   inputs.new_ones(3))
        rgb = bool(getattr(preprocessor, 'channel_conversion', False))
        return mix_augment(inputs, mean, std, rgb, **self.augment_cfg)

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One DACS iteration (see the class docstring).

        Args:
            data (dict): A paired batch ``dict(source=..., target=...)``.
            optim_wrapper (OptimWrapperDict): Holds the ``segmentor``
                wrapper.

        Returns:
            dict[str, Tensor]: The loss terms, accuracies and the
            pseudo-weight, for logging.
        """
        seg_optim, = self.optim_wrappers(optim_wrapper, 'segmentor')
        data = self.preprocess(data)
        src, tgt = data['source'], data['target']
        valid_masks = stack_valid_pseudo_masks(  # HRDA's margins, if any
            tgt['data_samples'], tgt['inputs'].shape[2:],
            self.pseudo_weight_ignore)
        log_vars: Dict[str, Tensor] = {}

        src_labels = torch.stack(
            [s.gt_sem_seg.data for s in src['data_samples']]).long()

        # 1. supervised loss on the source domain (and the FD)
        feature_losses = None
        if self.imnet_feature_dist is not None:
            feature_losses = functools.partial(self.feature_distance_losses,
                                               src['inputs'],
                                               labels=src_labels)
        self.source_step(src, seg_optim, log_vars, feature_losses)
        src_labels = src_labels.squeeze(1)

        # 2. the teacher's pseudo-labels of the target images
        labels, pseudo_weight = self.pseudo_label(tgt['inputs'])
        # expanded on the device: no host synchronisation
        weights = pseudo_weight.detach().expand(labels.shape).clone()
        weights = filter_valid_pseudo_region(
            weights, *self.pseudo_weight_ignore, valid_masks)
        images, prefix = tgt['inputs'], 'tgt'
        target_pseudo = (labels, weights)

        # 3. ClassMix
        if self.mix == 'class':
            if src['inputs'].shape != images.shape or \
                    src_labels.shape != labels.shape:
                raise ValueError(
                    'ClassMix needs source and target batches of one size '
                    '(e.g. both cropped to crop_size), got source '
                    f"{tuple(src['inputs'].shape)} with labels "
                    f'{tuple(src_labels.shape)} and target '
                    f'{tuple(images.shape)}')
            masks = class_mix_masks(src_labels,
                                    self.seg.decode_head.ignore_index)
            images, labels, weights = class_mix(masks, src['inputs'], images,
                                                src_labels, labels, weights)
            prefix = 'mix'

        # 4. strong augmentation, 5. weighted CE of the student
        self.weighted_step(self.augment(images), labels, weights, prefix,
                           seg_optim, log_vars)
        log_vars[f'{prefix}.pseudo_weight'] = pseudo_weight
        # 6. MIC: the same pseudo-labels on the masked target images
        if self.mic is not None:
            self.weighted_step(
                self.mic.masked_images(tgt['inputs'], self.augment),
                *target_pseudo, 'masked', seg_optim, log_vars,
                self.mic.weight_losses)

        self.step_optimizers((seg_optim, ), log_vars)
        return log_vars
