"""Crop boxes of HRDA: the random detail crop, box scaling, sliding
windows and the averaging of overlapping window predictions.

A box is ``(y1, y2, x1, x2)`` in pixels, end exclusive, as in HRDA.
"""
from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

Box = Tuple[int, int, int, int]


def random_crop_box(img_h: int, img_w: int, crop_size: Sequence[int],
                    divisible: int = 1) -> Box:
    """A random crop box whose offsets are multiples of ``divisible``.

    HRDA's rule (``get_crop_bbox``): an image of exactly the crop size gives
    the whole image without a draw; otherwise the row offset, then the
    column offset, is ``np.random.randint(0, (margin + 1) // divisible) *
    divisible`` with ``margin = max(size - crop, 0)``. The draws use numpy's
    global generator, so runs seeded as mmengine seeds them repeat.

    Args:
        img_h (int): Image height.
        img_w (int): Image width.
        crop_size (Sequence[int]): ``(h, w)`` of the crop.
        divisible (int): The offsets are multiples of it. Defaults to 1.

    Returns:
        tuple[int, int, int, int]: ``(y1, y2, x1, x2)``.
    """
    crop_h, crop_w = crop_size[-2], crop_size[-1]
    if crop_h <= 0 or crop_w <= 0:
        raise ValueError(f'crop size must be positive, got {crop_size}')
    if img_h == crop_h and img_w == crop_w:
        return 0, img_h, 0, img_w
    margin_h = max(img_h - crop_h, 0)
    margin_w = max(img_w - crop_w, 0)
    if (margin_h + 1) // divisible < 1 or (margin_w + 1) // divisible < 1:
        raise ValueError(
            f'no crop offset divisible by {divisible} fits a {crop_h}x'
            f'{crop_w} crop into a {img_h}x{img_w} image')
    y1 = int(np.random.randint(0, (margin_h + 1) // divisible)) * divisible
    x1 = int(np.random.randint(0, (margin_w + 1) // divisible)) * divisible
    return y1, y1 + crop_h, x1, x1 + crop_w


def crop_tensor(tensor: Tensor, box: Box) -> Tensor:
    """Crop the last two dimensions of a 2-, 3- or 4-d tensor to ``box``."""
    if tensor.dim() not in (2, 3, 4):
        raise ValueError(f'cannot crop a {tensor.dim()}-d tensor')
    y1, y2, x1, x2 = box
    return tensor[..., y1:y2, x1:x2]


def scale_box(box: Box, divisor: float) -> Box:
    """Divide every coordinate of ``box`` by ``divisor``, truncating to int
    (HRDA's ``scale_box``)."""
    return tuple(int(v / divisor) for v in box)  # type: ignore[return-value]


def slide_boxes(img_h: int, img_w: int, crop_size: Sequence[int],
                stride: Sequence[int]) -> List[Box]:
    """Sliding-window boxes covering an image, row by row.

    The last window of a row/column is shifted back to end at the border
    and a window larger than the image is clipped to it, as mmseg's (and
    HRDA's) slide inference.

    Args:
        img_h (int): Image height.
        img_w (int): Image width.
        crop_size (Sequence[int]): ``(h, w)`` of a window.
        stride (Sequence[int]): ``(h, w)`` step between windows.

    Returns:
        list[tuple[int, int, int, int]]: The boxes.
    """
    (h_crop, w_crop), (h_stride, w_stride) = crop_size, stride
    if min(h_crop, w_crop, h_stride, w_stride) <= 0:
        raise ValueError(f'slide windows need positive crop_size and stride, '
                         f'got {crop_size} and {stride}')
    h_grids = max(img_h - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(img_w - w_crop + w_stride - 1, 0) // w_stride + 1
    boxes = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2 = min(h_idx * h_stride + h_crop, img_h)
            x2 = min(w_idx * w_stride + w_crop, img_w)
            boxes.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return boxes


def average_windows(window_logits: Tensor, boxes: Sequence[Box],
                    batch_size: int, size: Sequence[int]) -> Tensor:
    """Paste window predictions into a map, averaging where they overlap.

    Args:
        window_logits (Tensor): Predictions of all windows stacked window
            by window, ``(len(boxes) * batch_size, C, h, w)``: window ``i``
            holds rows ``i * batch_size`` to ``(i + 1) * batch_size``.
        boxes (Sequence[tuple]): The box of each window, in the output's
            coordinates.
        batch_size (int): Images per window.
        size (Sequence[int]): ``(H, W)`` of the output.

    Returns:
        Tensor: The averaged map ``(batch_size, C, H, W)``.
    """
    height, width = size
    preds = window_logits.new_zeros(
        (batch_size, window_logits.shape[1], height, width))
    count = window_logits.new_zeros((batch_size, 1, height, width))
    for i, (y1, y2, x1, x2) in enumerate(boxes):
        window = window_logits[i * batch_size:(i + 1) * batch_size]
        preds += F.pad(window, (x1, width - x2, y1, height - y2))
        count[:, :, y1:y2, x1:x2] += 1
    if bool((count == 0).any()):
        raise ValueError('the windows do not cover the whole map')
    return preds / count


def stack_windows(img: Tensor, boxes: Sequence[Box]) -> Tensor:
    """The windows of ``img`` (N, C, H, W) stacked window by window, as
    :func:`average_windows` expects them back."""
    return torch.cat([crop_tensor(img, box) for box in boxes], dim=0)
