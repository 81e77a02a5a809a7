"""ClassMix (DACS): paste half of the source classes onto the target."""
from typing import Optional, Tuple

import torch
from torch import Tensor


def class_mix_masks(labels: Tensor,
                    ignore_index: int = 255,
                    generator: Optional[torch.Generator] = None) -> Tensor:
    """Masks of randomly chosen source classes, one per image.

    For each label map, ``ceil(n / 2)`` of its ``n`` present classes are
    drawn without replacement, per image as DACS; the mask is 1 where the
    label is one of them. ``ignore_index`` is not a class here, so
    unlabelled source pixels are never pasted: a deliberate difference from
    the released DACS and DAFormer code, which draw it like any class.

    Args:
        labels (Tensor): Source labels of shape (N, H, W) or (N, 1, H, W).
        ignore_index (int): Label of unlabelled pixels, never pasted.
        generator (torch.Generator, optional): Source of randomness.

    Returns:
        Tensor: Boolean masks of shape (N, H, W).
    """
    if labels.dim() == 4:
        labels = labels.squeeze(1)
    if labels.dim() != 3:
        raise ValueError('labels must have shape (N, H, W) or (N, 1, H, W), '
                         f'got {tuple(labels.shape)}')
    masks = []
    for label in labels:
        classes = torch.unique(label)
        classes = classes[classes != ignore_index]
        num = classes.numel()
        order = torch.randperm(num, generator=generator)
        chosen = classes[order[:(num + 1) // 2].to(classes.device)]
        masks.append(torch.isin(label, chosen))
    return torch.stack(masks)


def one_mix(mask: Tensor, pasted: Tensor, background: Tensor) -> Tensor:
    """``pasted`` where ``mask`` is set, ``background`` elsewhere.

    Args:
        mask (Tensor): Boolean masks of shape (N, H, W).
        pasted (Tensor): Images (N, C, H, W) or maps (N, H, W) to paste.
        background (Tensor): What they are pasted onto, same shape.

    Returns:
        Tensor: The mix, shaped like ``pasted``.
    """
    if pasted.shape != background.shape:
        raise ValueError('cannot mix tensors of shapes '
                         f'{tuple(pasted.shape)} and '
                         f'{tuple(background.shape)}')
    if pasted.dim() == 4:
        mask = mask.unsqueeze(1)
    if mask.shape[-2:] != pasted.shape[-2:]:
        raise ValueError(f'mask of size {tuple(mask.shape[-2:])} does not '
                         f'match tensors of size {tuple(pasted.shape[-2:])}')
    return torch.where(mask, pasted, background)


def class_mix(mask: Tensor, src_img: Tensor, tgt_img: Tensor,
              src_label: Tensor, pseudo_label: Tensor,
              pseudo_weight: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Mixed image, label and pixel weight of ClassMix.

    Args:
        mask (Tensor): Boolean masks (N, H, W) of the pasted source pixels.
        src_img (Tensor): Source images (N, C, H, W).
        tgt_img (Tensor): Target images (N, C, H, W).
        src_label (Tensor): Source labels (N, H, W).
        pseudo_label (Tensor): Target pseudo-labels (N, H, W).
        pseudo_weight (Tensor): Weights (N, H, W) of the pseudo-labels.

    Returns:
        tuple[Tensor, Tensor, Tensor]: The mixed images, the mixed labels
        (source label where pasted, pseudo-label elsewhere) and the pixel
        weights (1 where pasted, ``pseudo_weight`` elsewhere).
    """
    img = one_mix(mask, src_img, tgt_img)
    label = one_mix(mask, src_label, pseudo_label)
    weight = one_mix(mask, torch.ones_like(pseudo_weight), pseudo_weight)
    return img, label, weight
