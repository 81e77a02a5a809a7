"""MIC's masked image consistency, re-stated with plain torch for the tests.

Source: lhoyer/MIC ``seg/mmseg/models/utils/masking_transforms.py``
(``BlockMaskGenerator.generate_mask``, ``mask_image``) and
``seg/mmseg/models/uda/masking_consistency_module.py``
(``MaskingConsistencyModule.__call__`` with ``mask_mode='separatetrgaug'``,
``mask_alpha='same'``, ``mask_pseudo_threshold='same'``), called at the end
of ``DACS.forward_train`` in ``seg/mmseg/models/uda/dacs.py`` with the
pseudo-label and the (cropped) pseudo-weight of the DACS step. Every random
draw comes in as an argument.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from .daformer_dacs import gaussian_blur, logits, weighted_ce


def block_grid_shape(height: int, width: int, block_size: int) -> tuple:
    """``round(H / b)``, ``round(W / b)``: the blocks per side."""
    return round(height / block_size), round(width / block_size)


def block_mask(draws: Tensor, mask_ratio: float, height: int,
               width: int) -> Tensor:
    """``generate_mask``: a block is kept (1) where its draw is ``>
    mask_ratio``; the grid is upsampled by nearest neighbours, i.e. pixel
    ``(y, x)`` takes block ``(floor(y * rows / H), floor(x * cols / W))``.

    Args:
        draws (Tensor): ``U(0, 1)`` draws (N, 1, rows, cols).
        mask_ratio (float): ``mask_ratio``.
        height, width (int): The image size.

    Returns:
        Tensor: Float masks (N, 1, H, W).
    """
    rows, cols = draws.shape[-2:]
    keep = (draws > mask_ratio).float()
    row_of = [int(y * rows / height) for y in range(height)]
    col_of = [int(x * cols / width) for x in range(width)]
    return keep[:, :, row_of][:, :, :, col_of]


def mask_image(img: Tensor, draws: Tensor, mask_ratio: float) -> Tensor:
    """``mask_image``: the image times its block mask."""
    return img * block_mask(draws, mask_ratio, *img.shape[-2:])


def augmented_masked_image(tgt_img: Tensor, draws: Tensor, mask_ratio: float,
                           blur_sigmas: Optional[Sequence[float]]) -> Tensor:
    """The image MIC's student sees in mode ``'separatetrgaug'``:
    ``strong_transform`` of the target images without mixing (colour jitter
    not drawn, the blur with each image's sigma or off when
    ``blur_sigmas`` is None), then ``mask_image``."""
    img = tgt_img.clone()
    if blur_sigmas is not None:
        img = torch.cat([gaussian_blur(img[i:i + 1], sigma)
                         for i, sigma in enumerate(blur_sigmas)])
    return mask_image(img, draws, mask_ratio)


def mic_step(student: nn.Module,
             tgt_img: Tensor,
             pseudo_label: Tensor,
             pseudo_weight: Tensor,
             draws: Tensor,
             mask_ratio: float,
             blur_sigmas: Optional[Sequence[float]],
             mask_lambda: float = 1.0) -> Dict[str, Tensor]:
    """The masked loss of ``MaskingConsistencyModule.__call__`` in mode
    ``'separatetrgaug'`` with the DACS teacher's pseudo-labels, backward
    (``masked_loss.backward()`` in ``DACS.forward_train``).

    The target images get ``strong_transform`` without mixing, the colour
    jitter not drawn (``color_jitter <= color_jitter_probability``) and the
    blur drawn on (``blur > 0.5``) or off (``blur_sigmas`` None). The
    original blurs the batch with one sigma; here each image takes its own
    (the same when all are equal), as the model under test draws one per
    image.

    Args:
        student (nn.Module): The segmentor (``backbone``, ``decode_head``).
        tgt_img (Tensor): Normalised target images (N, 3, H, W).
        pseudo_label (Tensor): The DACS pseudo-labels (N, H, W).
        pseudo_weight (Tensor): Their pixel weights (N, H, W), after the
            pseudo-label crop.
        draws (Tensor): The mask's block draws (N, 1, rows, cols).
        mask_ratio (float): ``mask_ratio``.
        blur_sigmas (Sequence[float], optional): One sigma per image.
        mask_lambda (float): ``mask_lambda``: scales the decode loss.

    Returns:
        dict[str, Tensor]: ``masked_img`` and ``masked_loss``.
    """
    masked_img = augmented_masked_image(tgt_img, draws, mask_ratio,
                                        blur_sigmas)
    loss = weighted_ce(logits(student, masked_img), pseudo_label,
                       pseudo_weight)
    if mask_lambda != 1:
        loss = loss * mask_lambda
    loss.backward()
    return dict(masked_img=masked_img.detach(), masked_loss=loss.detach())
