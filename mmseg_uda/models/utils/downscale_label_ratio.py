"""DAFormer's label downscaling that keeps only dominant classes."""
import torch
import torch.nn.functional as F
from torch import Tensor


def downscale_label_ratio(label: Tensor,
                          scale_factor: int,
                          min_ratio: float,
                          num_classes: int,
                          ignore_index: int = 255) -> Tensor:
    """Downscale a label map by majority vote over non-overlapping blocks.

    Each ``scale_factor x scale_factor`` block becomes its most frequent
    value (``ignore_index`` pixels count as a value of their own). The block
    keeps that class only where its share of the block is at least
    ``min_ratio``; otherwise, or where the winner is ``ignore_index``, the
    block becomes ``ignore_index``. Rows and columns that do not fill a
    whole block are dropped (the output is ``H // scale_factor`` by
    ``W // scale_factor``). On a tie the lowest class index wins.

    Args:
        label (Tensor): Integer labels of shape (N, 1, H, W), values in
            ``[0, num_classes)`` or ``ignore_index``.
        scale_factor (int): Block size, at least 2.
        min_ratio (float): Smallest share of the winning class in a block.
        num_classes (int): Number of classes.
        ignore_index (int): Label of ignored pixels. Default: 255.

    Returns:
        Tensor: Labels of shape (N, 1, H // scale_factor, W // scale_factor),
        of the dtype of ``label``.
    """
    if label.dim() != 4 or label.shape[1] != 1:
        raise ValueError(f'expected labels of shape (N, 1, H, W), got '
                         f'{tuple(label.shape)}')
    if int(scale_factor) != scale_factor or scale_factor < 2:
        raise ValueError(f'scale_factor must be an integer >= 2, got '
                         f'{scale_factor}')
    scale_factor = int(scale_factor)
    height, width = label.shape[-2:]
    if height < scale_factor or width < scale_factor:
        raise ValueError(f'label of size {height}x{width} is smaller than '
                         f'one {scale_factor}x{scale_factor} block')
    valid = label != ignore_index
    if bool(((label[valid] < 0) | (label[valid] >= num_classes)).any()):
        raise ValueError(f'labels must be in [0, {num_classes}) or '
                         f'{ignore_index}, got values '
                         f'{torch.unique(label[valid]).tolist()}')
    # Ignored pixels vote as one extra class, ``num_classes``.
    votes = torch.where(valid, label, torch.full_like(label, num_classes))
    one_hot = F.one_hot(votes.squeeze(1).long(), num_classes + 1)
    shares = F.avg_pool2d(
        one_hot.permute(0, 3, 1, 2).float(), kernel_size=scale_factor)
    ratio, winner = shares.max(dim=1, keepdim=True)
    keep = (winner != num_classes) & (ratio >= min_ratio)
    out = torch.where(keep, winner, torch.full_like(winner, ignore_index))
    return out.to(label.dtype)
