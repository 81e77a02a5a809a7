"""HRDA's pseudo-label margins, re-stated with plain numpy/torch for tests.

Re-stated from reading lhoyer/MIC, folder ``seg/``:

- ``mmseg/datasets/cityscapes.py``: ``CityscapesDataset.pre_pipeline`` with
  ``crop_pseudo_margins``: a uint8 mask of the fixed size ``[1024, 2048]``,
  0 in the margins (each only if > 0: ``[-0:]`` would be everything), added
  to ``seg_fields``; the pipeline of
  ``configs/_base_/datasets/uda_gtaHR_to_cityscapesHR_1024x1024.py``
  (Resize to 2048x1024, which leaves a Cityscapes image and the mask as
  they are, RandomCrop, RandomFlip) crops, then flips it with the image;
  ``pipelines/formating.py`` collects it as ``mask[None]``;
- ``mmseg/models/uda/dacs.py``: ``DACS.filter_valid_pseudo_region``: the
  row crop ``pseudo_weight_ignore_top/bottom`` asserts that no mask is
  given, the mask multiplies the weight in place (``squeeze(1)``).
"""
from typing import Optional, Sequence, Tuple

import numpy as np
from torch import Tensor

#: ``crop_pseudo_margins`` of ``seg/configs/hrda/gtaHR2csHR_hrda.py`` (and of
#: ``seg/configs/mic/gtaHR2csHR_mic_hrda.py``): top, bottom, left, right.
HRDA_MARGINS = [30, 240, 30, 30]
#: ``valid_mask_size`` of ``CityscapesDataset`` (``cityscapes.py``).
VALID_MASK_SIZE = [1024, 2048]


def ref_pre_pipeline_mask(margins: Sequence[int],
                          size: Sequence[int] = VALID_MASK_SIZE
                          ) -> np.ndarray:
    """The mask ``pre_pipeline`` adds (uint8, ``size``)."""
    mask = np.ones(size, dtype=np.uint8)
    if margins[0] > 0:
        mask[:margins[0], :] = 0
    if margins[1] > 0:
        mask[-margins[1]:, :] = 0
    if margins[2] > 0:
        mask[:, :margins[2]] = 0
    if margins[3] > 0:
        mask[:, -margins[3]:] = 0
    return mask


def ref_crop_then_flip(mask: np.ndarray, crop_box: Tuple[int, int, int, int],
                       flip: bool) -> np.ndarray:
    """The mask after the original's ``RandomCrop`` (box ``(y1, y2, x1,
    x2)``) and horizontal ``RandomFlip``, collected as (1, h, w)."""
    y1, y2, x1, x2 = crop_box
    out = mask[y1:y2, x1:x2]
    if flip:
        out = out[:, ::-1]
    return np.ascontiguousarray(out[None])


def ref_filter_valid_pseudo_region(pseudo_weight: Tensor, ignore_top: int,
                                   ignore_bottom: int,
                                   valid_pseudo_mask: Optional[Tensor]
                                   ) -> Tensor:
    """``DACS.filter_valid_pseudo_region``: weight (N, H, W), mask
    (N, 1, H, W) or None; modifies and returns the weight."""
    if ignore_top > 0:
        assert valid_pseudo_mask is None
        pseudo_weight[:, :ignore_top, :] = 0
    if ignore_bottom > 0:
        assert valid_pseudo_mask is None
        pseudo_weight[:, -ignore_bottom:, :] = 0
    if valid_pseudo_mask is not None:
        pseudo_weight *= valid_pseudo_mask.squeeze(1)
    return pseudo_weight
