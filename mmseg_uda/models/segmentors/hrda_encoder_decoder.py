"""HRDA's multi-resolution segmentor: a low-resolution context and a
high-resolution detail crop, fused by :class:`HRDAHead`."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptSampleList, SampleList
from torch import Tensor

from ..utils.hrda_crops import (Box, average_windows, crop_tensor,
                                random_crop_box, slide_boxes, stack_windows)
from .uda_encoder_decoder import UDAEncoderDecoder

#: HRDA's test setting: 1024x1024 windows, stride 512, run as one batch.
HRDA_TEST_CFG = dict(mode='slide', batched_slide=True, stride=(512, 512),
                     crop_size=(1024, 1024))


@MODELS.register_module()
class HRDAEncoderDecoder(UDAEncoderDecoder):
    """The segmentor of `HRDA <https://arxiv.org/abs/2204.13132>`_, over any
    mmseg backbone, with an :class:`~mmseg_uda.models.decode_heads.HRDAHead`.

    ``scales`` holds a context and a detail scale (HRDA: ``[1, 0.5]``,
    sorted to ``[0.5, 1]``). The input (HRDA: a 1024x1024 crop) is resized
    to every scale (bilinear, the head's ``align_corners``).

    **Training** (``mode='levels'``, ``'levels_and_feats'``, ``'loss'``):
    the context is the whole input at the low scale; the detail is a random
    ``hr_crop_size`` crop of the input at the high scale whose offsets are
    multiples of ``crop_coord_divisible``
    (:func:`~mmseg_uda.models.utils.hrda_crops.random_crop_box`, numpy's
    global generator as HRDA). The levels are ``{'main': fused, 'lr': ...,
    'hr': ...}`` of :meth:`HRDAHead.forward`, at the head's resolution;
    :meth:`loss_by_levels` weights the fused loss by ``1 - lr_loss_weight -
    hr_loss_weight``, the context loss by ``lr_loss_weight`` and the detail
    loss, on labels (and pixel weights) cropped to the detail crop, by
    ``hr_loss_weight``, as HRDA. It must follow the forward pass whose crop
    it uses. The features of ``'levels_and_feats'`` (for the feature
    distance) are the backbone's on the scale ``feature_scale`` and
    :meth:`extract_feat` resizes to that scale, so a frozen ImageNet model
    built from the same config gives comparable features (HRDA:
    ``feature_scale=0.5``). ``mode='levels'`` always draws a detail crop,
    also in a teacher; HRDA's pseudo-labels are ``'inference_levels'``.

    **Inference** (``mode='inference_levels'`` for pseudo-labels,
    ``predict``, ``'tensor'``): with ``hr_slide_inference`` the detail scale
    covers the whole input with ``hr_crop_size`` windows (stride half the
    window with ``hr_slide_overlapping``), all run as one batch, their
    logits averaged; the context attention is not masked. ``test_cfg`` of
    ``mode='slide'`` with ``batched_slide=True`` runs all test windows as
    one batch, as HRDA's test configuration (1024x1024 windows, stride
    512). A config inheriting a model base whose ``test_cfg`` has
    ``logits_to_ori_shape`` should replace it (``_delete_=True``): the
    option is refused in ``'whole'`` mode and has no effect in ``'slide'``.

    Args:
        backbone (dict): Any mmseg backbone.
        decode_head (dict): An ``HRDAHead`` config; ``scales``,
            ``enable_hr_crop`` and ``hr_slide_inference`` are set from the
            arguments below.
        scales (Sequence[float]): The two scales. Defaults to ``(1, 0.5)``.
        hr_crop_size (Sequence[int], optional): ``(h, w)`` of the detail
            crop; None trains on the whole detail scale.
            Defaults to ``(512, 512)``.
        hr_slide_inference (bool): Slide the detail scale at inference.
            Defaults to True.
        hr_slide_overlapping (bool): Detail windows overlap by half.
            Defaults to True.
        crop_coord_divisible (int): The detail crop's offsets are multiples
            of it. Defaults to 8.
        blur_hr_crop (bool): Blur the detail scale by downscaling by 2 and
            upscaling back. Defaults to False.
        feature_scale (float): The scale of :meth:`extract_feat` and of the
            ``'levels_and_feats'`` features; one of ``scales``.
            Defaults to 0.5.
        **kwargs: The other arguments of :class:`UDAEncoderDecoder`
            (``neck``, ``train_cfg``, ``test_cfg``, ...); no
            ``auxiliary_head``. ``test_cfg`` defaults to
            :data:`HRDA_TEST_CFG`.

    The defaults are HRDA's GTA->Cityscapes setting.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 scales: Sequence[float] = (1, 0.5),
                 hr_crop_size: Optional[Sequence[int]] = (512, 512),
                 hr_slide_inference: bool = True,
                 hr_slide_overlapping: bool = True,
                 crop_coord_divisible: int = 8,
                 blur_hr_crop: bool = False,
                 feature_scale: float = 0.5,
                 **kwargs) -> None:
        scales = sorted(scales)
        if len(scales) != 2 or scales[0] <= 0:
            raise ValueError(f'HRDAEncoderDecoder: scales must be two '
                             f'positive scales, got {scales}')
        if feature_scale not in scales:
            raise ValueError(
                f'HRDAEncoderDecoder: feature_scale must be one of scales '
                f'{scales}, got {feature_scale!r}')
        if kwargs.get('auxiliary_head') is not None:
            raise ValueError('HRDAEncoderDecoder: an auxiliary_head is not '
                             'supported (HRDA has none)')
        if hr_crop_size is not None and (
                len(hr_crop_size) != 2 or min(hr_crop_size) <= 0):
            raise ValueError(f'HRDAEncoderDecoder: hr_crop_size must be '
                             f'(h, w), got {hr_crop_size}')
        if crop_coord_divisible < 1:
            raise ValueError('HRDAEncoderDecoder: crop_coord_divisible must '
                             f'be at least 1, got {crop_coord_divisible}')
        if hr_slide_inference and hr_crop_size is None:
            raise ValueError('HRDAEncoderDecoder: hr_slide_inference needs '
                             'hr_crop_size (the window size)')
        decode_head = copy.deepcopy(decode_head)
        if decode_head.get('type') != 'HRDAHead':
            raise ValueError('HRDAEncoderDecoder: decode_head must be an '
                             f"HRDAHead, got {decode_head.get('type')!r}")
        kwargs['test_cfg'] = ConfigDict(copy.deepcopy(
            kwargs.get('test_cfg') or HRDA_TEST_CFG))
        decode_head.update(scales=scales,
                           enable_hr_crop=hr_crop_size is not None,
                           hr_slide_inference=hr_slide_inference)
        super().__init__(backbone=backbone, decode_head=decode_head, **kwargs)
        self.scales = scales
        self.feature_scale = feature_scale
        self.crop_size = None if hr_crop_size is None else tuple(hr_crop_size)
        self.hr_slide_inference = hr_slide_inference
        self.hr_slide_overlapping = hr_slide_overlapping
        self.crop_coord_divisible = crop_coord_divisible
        self.blur_hr_crop = blur_hr_crop
        self._hr_crop_box: Optional[Box] = None

    def level_names(self) -> List[str]:
        """Names of the training levels."""
        return ['main', 'lr', 'hr']

    # -- images and features -------------------------------------------------
    def _rescale(self, img: Tensor, scale: float) -> Tensor:
        return resize(img, scale_factor=scale, mode='bilinear',
                      align_corners=self.align_corners)

    def scaled_input(self, img: Tensor, scale: float) -> Tensor:
        """The input at ``scale``; the detail scale 1 is blurred with
        ``blur_hr_crop``."""
        if scale == 1 and self.blur_hr_crop:
            return self._rescale(self._rescale(img, 0.5), 2)
        return img if scale == 1 else self._rescale(img, scale)

    def extract_unscaled_feat(self, img: Tensor) -> List[Tensor]:
        """Backbone (and neck) features of ``img`` as it is."""
        feats = self.backbone(img)
        return self.neck(feats) if self.with_neck else feats

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Features of the input resized to ``feature_scale``."""
        img = inputs if self.feature_scale == 1 else self._rescale(
            inputs, self.feature_scale)
        return self.extract_unscaled_feat(img)

    def extract_slide_feat(self, img: Tensor) -> Dict[str, object]:
        """Features of ``hr_crop_size`` windows of ``img``, one batch.

        Returns:
            dict: ``features`` (the windows' features, stacked window by
            window) and ``boxes`` (the windows in pixels of ``img``).
        """
        stride = [s // 2 for s in self.crop_size] \
            if self.hr_slide_overlapping else self.crop_size
        boxes = slide_boxes(*img.shape[2:], self.crop_size, stride)
        feats = self.extract_unscaled_feat(stack_windows(img, boxes))
        return {'features': feats, 'boxes': boxes}

    # -- training -----------------------------------------------------------
    def forward_levels(self, inputs: Tensor, return_feats: bool = False
                       ) -> Union[Dict[str, Tensor],
                                  Tuple[Dict[str, Tensor], List[Tensor]]]:
        """Training logits of a context and a random detail crop.

        Args:
            inputs (Tensor): Images of shape (N, C, H, W).
            return_feats (bool): Also return the backbone features of the
                ``feature_scale`` scale.

        Returns:
            dict[str, Tensor] | tuple: ``{'main', 'lr', 'hr'}`` logits; with
            ``return_feats`` the pair ``(levels, feats)``.
        """
        box = None
        feats = []
        for i, scale in enumerate(self.scales):
            img = self.scaled_input(inputs, scale)
            if i >= 1 and self.crop_size is not None:
                box = random_crop_box(*img.shape[2:], self.crop_size,
                                      self.crop_coord_divisible)
                img = crop_tensor(img, box)
            feats.append(self.extract_unscaled_feat(img))
        self._hr_crop_box = box
        fused, lr_seg, hr_seg = self.decode_head.forward(feats,
                                                         hr_crop_box=box)
        levels = {'main': fused, 'lr': lr_seg, 'hr': hr_seg}
        if return_feats:
            return levels, feats[self.scales.index(self.feature_scale)]
        return levels

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """HRDA's losses of one training forward pass."""
        return self.loss_by_levels(self.forward_levels(inputs), data_samples)

    def loss_by_levels(self,
                       levels: Dict[str, Tensor],
                       data_samples: SampleList,
                       names: Optional[List[str]] = None,
                       pixel_weight: Optional[Tensor] = None) -> dict:
        """HRDA's weighted losses of :meth:`forward_levels` logits.

        Args:
            levels (dict[str, Tensor]): ``main`` (fused), ``lr`` and ``hr``
                logits of the last :meth:`forward_levels` call.
            data_samples (list[SegDataSample]): Samples with
                ``gt_sem_seg`` at the input size.
            names (list[str], optional): Must be None: HRDA's losses are
                one weighted whole.
            pixel_weight (Tensor, optional): Weights (N, H, W) of the label
                pixels (cropped with the labels for the detail loss).

        Returns:
            dict[str, Tensor]: ``main.*`` and, with their weights above
            0, ``lr.*`` and ``hr.*`` loss terms and accuracies.
        """
        if names is not None:
            raise ValueError('HRDAEncoderDecoder.loss_by_levels computes all '
                             'levels (names must be None)')
        head = self.decode_head
        lr_w, hr_w = head.lr_loss_weight, head.hr_loss_weight
        box, self._hr_crop_box = self._hr_crop_box, None
        if hr_w > 0 and self.crop_size is not None and box is None:
            raise RuntimeError(
                'HRDAEncoderDecoder.loss_by_levels: no detail crop; call it '
                'right after forward_levels')
        losses = self._level_loss(levels['main'], data_samples, pixel_weight,
                                  'main', 1 - lr_w - hr_w)
        if lr_w > 0:
            losses.update(self._level_loss(levels['lr'], data_samples,
                                           pixel_weight, 'lr', lr_w))
        if hr_w > 0:
            if box is not None:
                data_samples = [
                    SegDataSample(gt_sem_seg=PixelData(
                        data=crop_tensor(s.gt_sem_seg.data, box)))
                    for s in data_samples
                ]
                if pixel_weight is not None:
                    pixel_weight = crop_tensor(pixel_weight, box)
            losses.update(self._level_loss(levels['hr'], data_samples,
                                           pixel_weight, 'hr', hr_w))
        return losses

    def _level_loss(self, logits: Tensor, data_samples: SampleList,
                    pixel_weight: Optional[Tensor], prefix: str,
                    weight: float) -> Dict[str, Tensor]:
        """The head's loss of ``logits``, loss terms times ``weight``."""
        losses = super().loss_by_levels({'main': logits}, data_samples,
                                        pixel_weight=pixel_weight)
        return {
            f'{prefix}.{key[len("main."):]}':
            value * weight if 'loss' in key else value
            for key, value in losses.items()
        }

    # -- inference ------------------------------------------------------------
    def inference_logits(self, inputs: Tensor) -> Tensor:
        """Fused logits of whole images at the head's resolution, the
        detail scale slid with ``hr_slide_inference`` (HRDA's
        ``encode_decode`` before the upsampling); ``mode='inference_levels'``
        returns them as ``{'main': logits}``."""
        feats = []
        for i, scale in enumerate(self.scales):
            img = self.scaled_input(inputs, scale)
            if i >= 1 and self.hr_slide_inference:
                feats.append(self.extract_slide_feat(img))
            else:
                feats.append(self.extract_unscaled_feat(img))
        return self.decode_head.forward(feats)[0]

    def _forward(self, inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """``mode='tensor'``: the fused inference logits."""
        return self.inference_logits(inputs)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Fused logits upsampled to the input size (bilinear)."""
        return resize(self.inference_logits(inputs), size=inputs.shape[2:],
                      mode='bilinear', align_corners=self.align_corners)

    def slide_inference(self, inputs: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """mmseg's slide inference; with ``batched_slide`` in ``test_cfg``
        all windows of the batch run through :meth:`encode_decode` at
        once (HRDA's batched slide inference)."""
        if not self.test_cfg.get('batched_slide', False):
            return super().slide_inference(inputs, batch_img_metas)
        boxes = slide_boxes(*inputs.shape[2:], self.test_cfg['crop_size'],
                            self.test_cfg['stride'])
        windows = stack_windows(inputs, boxes)
        metas = [dict(meta, img_shape=windows.shape[2:])
                 for meta in batch_img_metas]
        return average_windows(self.encode_decode(windows, metas), boxes,
                               inputs.shape[0], inputs.shape[2:])

    def whole_inference(self, inputs: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """mmseg's whole-image inference through :meth:`encode_decode`."""
        if self.test_cfg.get('logits_to_ori_shape', False):
            raise ValueError('HRDAEncoderDecoder: test_cfg '
                             '`logits_to_ori_shape` is not supported')
        return super().whole_inference(inputs, batch_img_metas)
