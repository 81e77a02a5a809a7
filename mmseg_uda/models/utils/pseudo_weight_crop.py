"""DAFormer's pseudo-label crop: zero weight at the image's top and bottom.

In the original (lhoyer/MIC ``seg/mmseg/models/uda/dacs.py``,
``DACS.filter_valid_pseudo_region``) the rows are zeroed in the *target*
pseudo-label weight, right after the weight is made from the teacher's
prediction and *before* the ClassMix mixing. The mixing then pastes the
source's weight of 1 where the source image is pasted, so rows of the mixed
weight inside the crop are 1 at source pixels and 0 at target pixels. The
rows hide the ego-vehicle (bottom) and the rectification border (top) of
Cityscapes images. The row counts are of the training crop (512x512 for
DAFormer), not of the full image.
"""
from torch import Tensor


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
