"""DAFormer's thing-class ImageNet feature distance (FD).

As lhoyer/MIC ``seg/mmseg/models/uda/dacs.py`` computes it
(``DACS.calc_feat_dist`` and ``DACS.masked_feat_dist``) for a single-scale
segmentor: the last feature level of the student's and of the frozen
ImageNet backbone's source-image features; per pixel, the L2 norm over
channels of their difference; its mean over the pixels whose downscaled
source label is a thing class; times the weight.

Where the code differs from the paper (DAFormer, CVPR 2022, Eq. 8), this
module follows the code:

- The paper writes a squared L2 distance; the code takes ``torch.norm``,
  the plain (not squared) L2 norm.
- The downscaling factor is ``label width // feature width``; the height is
  not looked at, and rows/columns that do not fill a block are dropped.
- With no thing pixel in the batch, the code's mean over an empty set is
  NaN (its gradient to the network is zero). :func:`feature_distance`
  returns that NaN as the code does; :class:`FeatureDistanceLoss` returns a
  zero tied to the student's features instead (the same zero gradient), so
  that mmengine's sum of the logged losses stays finite.
"""
from typing import Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.number_checks import check_weight
from ..utils.downscale_label_ratio import downscale_label_ratio

Features = Union[Tensor, Sequence[Tensor]]

#: Cityscapes' thing classes (pole ... bicycle) in DAFormer's config.
CITYSCAPES_THING_CLASSES = (6, 7, 11, 12, 13, 14, 15, 16, 17, 18)


def _last_level(feats: Features, name: str) -> Tensor:
    if isinstance(feats, Tensor):
        feat = feats
    else:
        if len(feats) == 0:
            raise ValueError(f'{name} is an empty list of feature levels')
        feat = feats[-1]
    if feat.dim() != 4:
        raise ValueError(f'{name}: expected features of shape (N, C, H, W), '
                         f'got {tuple(feat.shape)}')
    return feat


def thing_mask(label: Tensor, feat_width: int, thing_classes: Sequence[int],
               scale_min_ratio: float, num_classes: int,
               ignore_index: int = 255) -> Tensor:
    """Mask of feature pixels whose downscaled label is a thing class.

    Args:
        label (Tensor): Labels of shape (N, 1, H, W).
        feat_width (int): Width of the feature map; the scale factor is
            ``W // feat_width``, as in the original.
        thing_classes (Sequence[int]): Classes to keep.
        scale_min_ratio (float): See :func:`downscale_label_ratio`.
        num_classes (int): Number of classes.
        ignore_index (int): Label of ignored pixels.

    Returns:
        Tensor: Bool mask of shape (N, 1, H // s, W // s).
    """
    scale_factor = label.shape[-1] // feat_width
    small = downscale_label_ratio(label, scale_factor, scale_min_ratio,
                                  num_classes, ignore_index).long()
    classes = torch.as_tensor(list(thing_classes), device=label.device)
    return torch.isin(small, classes)


def feature_distance(student_feats: Features,
                     imnet_feats: Features,
                     label: Tensor,
                     thing_classes: Sequence[int] = CITYSCAPES_THING_CLASSES,
                     scale_min_ratio: float = 0.75,
                     num_classes: int = 19,
                     ignore_index: int = 255,
                     loss_weight: float = 0.005
                     ) -> Tuple[Tensor, Optional[Tensor]]:
    """Weighted mean L2 feature distance over thing-class pixels.

    Args:
        student_feats (Tensor | Sequence[Tensor]): Student backbone features;
            for a sequence the last level is used.
        imnet_feats (Tensor | Sequence[Tensor]): Features of the frozen
            ImageNet backbone, same layout; detached here.
        label (Tensor): Source labels of shape (N, 1, H, W).
        thing_classes (Sequence[int]): Classes the distance is taken on;
            an empty sequence means every pixel (the original's
            ``imnet_feature_dist_classes=None``).
        scale_min_ratio (float): See :func:`downscale_label_ratio`.
        num_classes (int): Number of classes.
        ignore_index (int): Label of ignored pixels.
        loss_weight (float): Weight of the distance.

    Returns:
        tuple[Tensor, Tensor]: The weighted distance (a scalar, NaN when the
        mask is empty, as in the original) and the mask (N, 1, h, w), or
        ``None`` for the unmasked form.
    """
    feat = _last_level(student_feats, 'student_feats')
    feat_imnet = _last_level(imnet_feats, 'imnet_feats').detach()
    if feat.shape != feat_imnet.shape:
        raise ValueError(f'student features {tuple(feat.shape)} and ImageNet '
                         f'features {tuple(feat_imnet.shape)} differ in shape')
    pixel_dist = torch.norm(feat - feat_imnet, dim=1, p=2)
    mask = None
    if len(thing_classes) > 0:
        mask = thing_mask(label, feat.shape[-1], thing_classes,
                          scale_min_ratio, num_classes, ignore_index)
        if mask.shape[-2:] != pixel_dist.shape[-2:]:
            raise ValueError(
                f'downscaled label {tuple(mask.shape[-2:])} does not match '
                f'features {tuple(pixel_dist.shape[-2:])}; label size '
                f'{tuple(label.shape[-2:])} must be an integer multiple of '
                f'the feature size')
        pixel_dist = pixel_dist[mask.squeeze(1)]
    return loss_weight * pixel_dist.mean(), mask


@MODELS.register_module()
class FeatureDistanceLoss(nn.Module):
    """DAFormer's thing-class ImageNet feature distance as a loss module.

    Args:
        loss_weight (float): Weight (DAFormer: 0.005).
        thing_classes (Sequence[int]): Classes the distance is taken on
            (DAFormer: Cityscapes' things); empty for every pixel.
        scale_min_ratio (float): Smallest class share of a label block for
            it to count (DAFormer: 0.75).
        ignore_index (int): Label of ignored pixels. Default: 255.
        num_classes (int): Number of classes. Default: 19.
        loss_name (str): Name of the loss in the log.
    """

    def __init__(self,
                 loss_weight: float = 0.005,
                 thing_classes: Sequence[int] = CITYSCAPES_THING_CLASSES,
                 scale_min_ratio: float = 0.75,
                 ignore_index: int = 255,
                 num_classes: int = 19,
                 loss_name: str = 'loss_imnet_feat_dist') -> None:
        super().__init__()
        check_weight(loss_weight, 'loss_weight')
        bad = [c for c in thing_classes if not 0 <= c < num_classes]
        if bad:
            raise ValueError(f'thing_classes {bad} are outside '
                             f'[0, {num_classes})')
        if not 0 < scale_min_ratio <= 1:
            raise ValueError(f'scale_min_ratio must be in (0, 1], got '
                             f'{scale_min_ratio}')
        self.loss_weight = loss_weight
        self.thing_classes = tuple(thing_classes)
        self.scale_min_ratio = scale_min_ratio
        self.ignore_index = ignore_index
        self.num_classes = num_classes
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Name of the loss in the log."""
        return self._loss_name

    def forward(self, student_feats: Features, imnet_feats: Features,
                label: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            student_feats (Tensor | Sequence[Tensor]): Student features.
            imnet_feats (Tensor | Sequence[Tensor]): Frozen ImageNet
                features.
            label (Tensor): Source labels of shape (N, 1, H, W).

        Returns:
            Tensor: The weighted distance; 0 (with zero gradient) when no
            pixel is a thing class.
        """
        loss, mask = feature_distance(
            student_feats, imnet_feats, label, self.thing_classes,
            self.scale_min_ratio, self.num_classes, self.ignore_index,
            self.loss_weight)
        if mask is not None and not bool(mask.any()):
            return _last_level(student_feats, 'student_feats').sum() * 0.0
        return loss


def build_feature_distance_loss(cfg: Mapping, decode_head: nn.Module
                                ) -> nn.Module:
    """Build a model's ``imnet_feature_dist`` loss, checked.

    Args:
        cfg (dict): The loss config, e.g. ``dict(type='FeatureDistanceLoss',
            loss_weight=0.005)``; ``num_classes`` and ``ignore_index``
            default to ``decode_head``'s.
        decode_head (nn.Module): The segmentor's decode head.

    Returns:
        nn.Module: The loss; called as ``loss(student_feats, imnet_feats,
        labels)``, it has a ``loss_name``.

    Raises:
        TypeError: If ``cfg`` is not a config dict with a ``type``, or a
            value has the wrong type.
        ValueError: If the type is unknown or the loss refuses a value (the
            messages name ``imnet_feature_dist``).
    """
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise TypeError(
            'imnet_feature_dist must be a loss config, e.g. '
            "dict(type='FeatureDistanceLoss', loss_weight=0.005), or "
            f'None, got {cfg!r}')
    cfg = dict(cfg)
    cfg.setdefault('num_classes', decode_head.num_classes)
    cfg.setdefault('ignore_index', decode_head.ignore_index)
    try:
        loss = MODELS.build(cfg)
    except TypeError as exc:
        raise TypeError(f'imnet_feature_dist: {exc}') from exc
    except (ValueError, KeyError) as exc:
        raise ValueError(f'imnet_feature_dist: {exc}') from exc
    if not hasattr(loss, 'loss_name'):
        raise TypeError(f'imnet_feature_dist: {type(loss).__name__} has '
                        'no loss_name to log it under')
    return loss
