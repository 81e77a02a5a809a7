"""Batch normalisation and the losses of a training step in plain PyTorch.

What :class:`~mmseg.models.SegDataPreProcessor` and mmseg's heads and
losses compute for the supported models, restated with tensor ops only, as
the reference side of the training-step benchmark.
"""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg_uda.models.data_preprocessors.normalization import \
    preprocessor_normalization

# Added inside log2 so that p = 0 gives 0, as ADVENT's maps.
LOG_EPS = 1e-30


class UnsupportedModel(ValueError):
    """The model (or its optimizer/preprocessor settings) has no plain
    re-statement."""


class PlainBatchInputs:
    """Stack, normalise and pad one domain's collated batch.

    Takes its settings from a ``SegDataPreProcessor`` (or subclass)
    instance: ``mean``/``std``, ``bgr_to_rgb``/``rgb_to_bgr``,
    ``size``/``size_divisor``, ``pad_val``/``seg_pad_val``; pads
    bottom/right to the batch's largest image (or the fixed ``size``) as
    ``stack_batch`` does.

    Args:
        preprocessor (nn.Module): The model's data preprocessor.
        device (torch.device): Where the model runs.
        channels_last (bool): Return the images in channels-last memory
            format (as a UDA model with ``channels_last=True``).

    Raises:
        UnsupportedModel: With ``batch_augments``.
    """

    def __init__(self, preprocessor: nn.Module,
                 device: torch.device, channels_last: bool = False) -> None:
        if getattr(preprocessor, 'batch_augments', None) is not None:
            raise UnsupportedModel('batch_augments of the data preprocessor '
                                   'have no plain re-statement')
        normalization = preprocessor_normalization(preprocessor)
        self.normalize = normalization is not None
        self.mean = preprocessor.mean if self.normalize else None
        self.std = preprocessor.std if self.normalize else None
        self.bgr_to_rgb = bool(preprocessor.channel_conversion)
        self.size = preprocessor.size
        self.size_divisor = preprocessor.size_divisor
        self.pad_val = preprocessor.pad_val
        self.seg_pad_val = preprocessor.seg_pad_val
        self.device = torch.device(device)
        self.channels_last = channels_last

    def _pad_size(self, images) -> Tuple[int, int]:
        if self.size is not None:
            return int(self.size[-2]), int(self.size[-1])
        height = max(img.shape[-2] for img in images)
        width = max(img.shape[-1] for img in images)
        div = self.size_divisor
        if div is not None and div > 1:
            height = (height + div - 1) // div * div
            width = (width + div - 1) // div * div
        return height, width

    def __call__(self, batch: dict) -> Tuple[Tensor, Optional[Tensor]]:
        """Images ``(N, C, H, W)`` and labels ``(N, H, W)`` (None unless
        every sample holds ``gt_sem_seg``) of a ``dict(inputs=...,
        data_samples=...)`` batch."""
        images = []
        for img in batch['inputs']:
            img = img.to(self.device, non_blocking=True)
            if self.bgr_to_rgb and img.shape[0] == 3:
                img = img[[2, 1, 0], ...]
            img = img.float()
            if self.normalize:
                img = (img - self.mean) / self.std
            images.append(img)
        height, width = self._pad_size(images)
        inputs = torch.stack([
            F.pad(img, (0, max(width - img.shape[-1], 0), 0,
                        max(height - img.shape[-2], 0)), value=self.pad_val)
            for img in images
        ])
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        samples = batch.get('data_samples') or []
        if not samples or not all('gt_sem_seg' in s for s in samples):
            return inputs, None
        labels = []
        for sample in samples:
            label = sample.gt_sem_seg.data.to(self.device, non_blocking=True)
            labels.append(F.pad(label, (0, max(width - label.shape[-1], 0),
                                        0, max(height - label.shape[-2], 0)),
                                value=self.seg_pad_val))
        return inputs, torch.stack(labels).squeeze(1)


class HeadCrossEntropy:
    """A decode head's cross-entropy (mmseg ``CrossEntropyLoss``) restated.

    Logits upsampled bilinearly (the head's ``align_corners``) to the label
    size, CE with the head's ``ignore_index``, mean over non-ignored pixels
    (``avg_non_ignore``) or all pixels, times the ``loss_weight``.

    Args:
        head (nn.Module): An mmseg decode head.

    Raises:
        UnsupportedModel: If the head has a pixel sampler or its loss is not
            a single plain softmax ``CrossEntropyLoss``.
    """

    def __init__(self, head: nn.Module) -> None:
        from mmseg.models.losses import CrossEntropyLoss
        loss = head.loss_decode
        name = type(head).__name__
        if getattr(head, 'sampler', None) is not None:
            raise UnsupportedModel(f'{name} has a pixel sampler')
        if not isinstance(loss, CrossEntropyLoss) or loss.use_sigmoid or \
                loss.use_mask or loss.class_weight is not None:
            raise UnsupportedModel(
                f'{name}: only a single softmax CrossEntropyLoss without '
                f'class weights is restated, got {loss!r}')
        self.weight = float(loss.loss_weight)
        self.avg_non_ignore = bool(loss.avg_non_ignore)
        self.ignore_index = int(head.ignore_index)
        self.align_corners = bool(head.align_corners)

    def __call__(self, logits: Tensor, labels: Tensor) -> Tensor:
        """The weighted loss of ``(N, C, h, w)`` logits on ``(N, H, W)``
        labels."""
        logits = F.interpolate(logits, size=labels.shape[-2:],
                               mode='bilinear',
                               align_corners=self.align_corners)
        loss = F.cross_entropy(logits, labels, reduction='none',
                               ignore_index=self.ignore_index)
        if self.avg_non_ignore:
            loss = loss.sum() / (labels != self.ignore_index).sum().clamp(
                min=1)
        else:
            loss = loss.mean()
        return self.weight * loss


def upsample(logits: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bilinear upsampling with ``align_corners=True`` (the originals')."""
    return F.interpolate(logits, size=size, mode='bilinear',
                         align_corners=True)


def self_information(probs: Tensor) -> Tensor:
    """``-p * log2(p + 1e-30) / log2(C)``, ADVENT's weighted map."""
    return -probs * torch.log2(probs + LOG_EPS) / math.log2(probs.shape[1])


def mean_entropy(probs: Tensor) -> Tensor:
    """Mean over pixels of the normalised entropy."""
    return self_information(probs).sum(dim=1).mean()


def gan_loss(logits: Tensor, label: float, kind: str) -> Tensor:
    """BCE-with-logits (``'vanilla'``) or MSE (``'lsgan'``) against a
    constant ``label``."""
    target = torch.full_like(logits, label)
    if kind == 'lsgan':
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


def total(terms: Dict[str, Tensor]) -> Tensor:
    """Sum of the loss terms in insertion order."""
    return sum(terms.values())
