"""Pseudo-label regions not to trust: DAFormer's crop, HRDA's margins.

DAFormer's pseudo-label crop zeroes the weight at the image's top and bottom.

In the original (lhoyer/MIC ``seg/mmseg/models/uda/dacs.py``,
``DACS.filter_valid_pseudo_region``) the rows are zeroed in the *target*
pseudo-label weight, right after the weight is made from the teacher's
prediction and *before* the ClassMix mixing. The mixing then pastes the
source's weight of 1 where the source image is pasted, so rows of the mixed
weight inside the crop are 1 at source pixels and 0 at target pixels. The
rows hide the ego-vehicle (bottom) and the rectification border (top) of
Cityscapes images. The row counts are of the training crop (512x512 for
DAFormer), not of the full image.

HRDA's margins instead come from the loader
(:class:`~mmseg_uda.datasets.transforms.PseudoLabelMargins`): a
``valid_pseudo_mask`` per target sample, 0 in the margins of the full image
that the training crop kept. ``filter_valid_pseudo_region`` multiplies the
weight by it, at the same place, and asserts that the row crop is off.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample
from torch import Tensor

#: The data sample field of the mask (written by ``PackUDASegInputs``).
MASK_FIELD = 'valid_pseudo_mask'


def crop_pseudo_weight(pseudo_weight: Tensor, ignore_top: int = 0,
                       ignore_bottom: int = 0) -> Tensor:
    """Return a copy of a pseudo-label weight with top/bottom rows zeroed.

    Args:
        pseudo_weight (Tensor): Weight of shape (N, H, W).
        ignore_top (int): Number of top rows to zero (DAFormer: 15).
        ignore_bottom (int): Number of bottom rows to zero (DAFormer: 120).

    Returns:
        Tensor: The weight, of the same shape, with
        ``[:, :ignore_top]`` and ``[:, H - ignore_bottom:]`` set to 0. The
        input is not modified (the original modifies it in place).
    """
    if pseudo_weight.dim() != 3:
        raise ValueError(f'expected a pseudo-label weight of shape '
                         f'(N, H, W), got {tuple(pseudo_weight.shape)}')
    for name, rows in (('ignore_top', ignore_top),
                       ('ignore_bottom', ignore_bottom)):
        if int(rows) != rows or rows < 0:
            raise ValueError(f'{name} must be an integer >= 0, got {rows}')
    out = pseudo_weight.clone()
    if ignore_top > 0:
        out[:, :int(ignore_top)] = 0
    if ignore_bottom > 0:
        out[:, -int(ignore_bottom):] = 0
    return out


def check_exclusive(ignore_top: int, ignore_bottom: int) -> None:
    """Refuse DAFormer's row crop next to HRDA's margins (the original
    asserts that they exclude each other).

    Raises:
        ValueError: If ``ignore_top`` or ``ignore_bottom`` is not 0.
    """
    if ignore_top or ignore_bottom:
        raise ValueError(
            'pseudo_weight_ignore_top/bottom (DAFormer\'s row crop, here '
            f'{ignore_top}/{ignore_bottom}) and a {MASK_FIELD} (HRDA\'s '
            'margins of PseudoLabelMargins) exclude each other: set both '
            'rows to 0 or drop PseudoLabelMargins from the target pipeline')


def stack_valid_pseudo_masks(data_samples: Sequence[SegDataSample],
                             size: Sequence[int],
                             ignore_rows: Sequence[int] = (0, 0)
                             ) -> Optional[Tensor]:
    """The samples' ``valid_pseudo_mask`` as one bool tensor (N, H, W).

    Args:
        data_samples (Sequence[SegDataSample]): The target samples, after
            the data preprocessor.
        size (Sequence[int]): ``(H, W)`` of the batch's input tensor. A
            smaller mask (the preprocessor padded its image at the bottom
            and right, as mmseg's ``stack_batch`` does) is padded there with
            0: no weight on padding.
        ignore_rows (Sequence[int]): The row crop ``(ignore_top,
            ignore_bottom)`` that will be applied; it must be ``(0, 0)`` if
            the samples carry masks (checked here, before any work).

    Returns:
        Tensor, optional: True where the pseudo-label may be trusted; None
        when no sample carries a mask.

    Raises:
        ValueError: If only some samples carry a mask, a mask is not
            (1, h, w) with h <= H and w <= W, or a row crop is asked for.
    """
    carry = [MASK_FIELD in sample for sample in data_samples]
    if not any(carry):
        return None
    check_exclusive(*ignore_rows)
    if not all(carry):
        raise ValueError(
            f'{MASK_FIELD}: target sample {carry.index(False)} has none '
            'while others do; pack every target sample with '
            'PseudoLabelMargins and PackUDASegInputs, or none')
    height, width = size
    masks = []
    for i, sample in enumerate(data_samples):
        mask = sample.get(MASK_FIELD).data
        if mask.dim() != 3 or mask.shape[0] != 1 or \
                mask.shape[1] > height or mask.shape[2] > width:
            raise ValueError(
                f'{MASK_FIELD} of target sample {i} must be (1, h, w) '
                f'within the input size {(height, width)}, got '
                f'{tuple(mask.shape)}')
        mask = mask != 0
        masks.append(F.pad(mask, (0, width - mask.shape[2], 0,
                                  height - mask.shape[1]), value=False))
    return torch.cat(masks)


def filter_valid_pseudo_region(pseudo_weight: Tensor, ignore_top: int = 0,
                               ignore_bottom: int = 0,
                               valid_mask: Optional[Tensor] = None) -> Tensor:
    """DAFormer's row crop or HRDA's margin mask of a pseudo-label weight.

    Args:
        pseudo_weight (Tensor): Weight of shape (N, H, W).
        ignore_top (int): Top rows to zero (DAFormer: 15).
        ignore_bottom (int): Bottom rows to zero (DAFormer: 120).
        valid_mask (Tensor, optional): (N, H, W), 0 (False) where the weight
            becomes 0 (:func:`stack_valid_pseudo_masks`).

    Returns:
        Tensor: A new weight; the input is not modified.

    Raises:
        ValueError: If a row crop and a mask are both given (the original
            asserts that they exclude each other), or the mask's shape is
            not the weight's.
    """
    if valid_mask is None:
        if ignore_top or ignore_bottom:
            return crop_pseudo_weight(pseudo_weight, ignore_top,
                                      ignore_bottom)
        return pseudo_weight
    check_exclusive(ignore_top, ignore_bottom)
    if valid_mask.shape != pseudo_weight.shape:
        raise ValueError(f'{MASK_FIELD} of shape {tuple(valid_mask.shape)} '
                         'does not match the pseudo-label weight '
                         f'{tuple(pseudo_weight.shape)}')
    return pseudo_weight * valid_mask.to(pseudo_weight.dtype)
