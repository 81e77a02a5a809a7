"""DAFormer's DACS iteration, re-stated with plain torch for the tests.

Source: lhoyer/MIC ``seg/mmseg/models/uda/dacs.py`` (``DACS.forward_train``,
``get_pseudo_label_and_weight``) and ``seg/mmseg/models/utils/
dacs_transforms.py`` (``get_class_masks``, ``generate_class_mask``,
``one_mix``, ``gaussian_blur``), the same as in lhoyer/DAFormer. Re-stated:
the DACS core and, optionally, DAFormer's ImageNet feature distance
(``calc_feat_dist`` after the source CE, backed separately with the source
graph retained, as ``forward_train`` does; the distance itself from
tests/reference/daformer_fd.py) and pseudo-label crop
(``filter_valid_pseudo_region``, in place, before the mixing), and MIC's
masked consistency as a callback (tests/reference/mic.py ``mic_step``) run
after the mixed loss's backward with the target images and the pseudo-label
and weight, as ``forward_train`` calls ``self.mic``. Not re-stated: debug
images. The step runs on one single-level mmseg segmentor (``backbone``
and ``decode_head``, as DAFormer's DeepLab-v2), and every random draw comes
in as an argument, so that a test can feed the draws our model made.
"""
import math
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .daformer_fd import ref_calc_feat_dist, ref_filter_valid_pseudo_region


def logits(segmentor: nn.Module, img: Tensor) -> Tensor:
    """``encode_decode`` without the resize: decode head on the backbone."""
    return segmentor.decode_head(segmentor.backbone(img))


def pseudo_label_and_weight(teacher_logits: Tensor, threshold: float):
    """``get_pseudo_label_and_weight``: argmax, and the fraction of pixels
    of the batch whose softmax maximum is ``>= threshold`` as one weight
    for every pixel."""
    prob, label = torch.max(torch.softmax(teacher_logits.detach(), dim=1),
                            dim=1)
    confident = prob.ge(threshold).long() == 1
    weight = torch.sum(confident).item() / label.numel()
    return label, weight * torch.ones(prob.shape)


def generate_class_mask(label: Tensor, classes: Tensor) -> Tensor:
    """1 where ``label`` (1, H, W) is one of ``classes``, shape (1, H, W)."""
    label, classes = torch.broadcast_tensors(
        label, classes.unsqueeze(1).unsqueeze(2))
    return label.eq(classes).sum(0, keepdims=True)


def class_masks(labels: Tensor,
                choose: Callable[[int, int], Sequence[int]]) -> List[Tensor]:
    """``get_class_masks`` of the source labels (N, 1, H, W).

    DAFormer draws, for each image, ``int((n + n % 2) / 2)`` of the ``n``
    classes of ``torch.unique(labels)`` (the whole batch's classes) with
    ``np.random.choice(n, k, replace=False)``; ``choose(n, k)`` stands for
    that draw.
    """
    masks = []
    for label in labels:
        classes = torch.unique(labels)
        num = classes.shape[0]
        choice = choose(num, int((num + num % 2) / 2))
        classes = classes[torch.as_tensor(list(choice)).long()]
        masks.append(generate_class_mask(label, classes).unsqueeze(0))
    return masks


def one_mix(mask: Tensor, data: Tensor) -> Tensor:
    """``one_mix``: ``mask * data[0] + (1 - mask) * data[1]``, with a batch
    dimension of 1 added."""
    mask, _ = torch.broadcast_tensors(mask[0], data[0])
    return (mask * data[0] + (1 - mask) * data[1]).unsqueeze(0)


def kernel_size(size: int) -> int:
    """DAFormer's blur kernel: ``floor(ceil(0.1 s) - 0.5 + ceil(0.1 s) % 2)``.
    """
    ceil = math.ceil(0.1 * size)
    return int(math.floor(ceil - 0.5 + ceil % 2))


def gaussian_blur(img: Tensor, sigma: float) -> Tensor:
    """kornia's ``GaussianBlur2d(kernel, (sigma, sigma))`` with DAFormer's
    kernel sizes: a normalised Gaussian per axis, reflected borders."""
    channels = img.shape[1]
    sizes = (kernel_size(img.shape[2]), kernel_size(img.shape[3]))
    kernels = []
    for size in sizes:
        x = torch.arange(size, dtype=img.dtype) - size // 2
        if size % 2 == 0:
            x = x + 0.5
        gauss = torch.exp(-x**2 / (2.0 * sigma**2))
        kernels.append(gauss / gauss.sum())
    kernel2d = torch.outer(kernels[0], kernels[1])
    pad_h, pad_w = sizes[0] // 2, sizes[1] // 2
    padded = F.pad(img, (pad_w, pad_w, pad_h, pad_h), mode='reflect')
    weight = kernel2d.expand(channels, 1, *kernel2d.shape)
    return F.conv2d(padded, weight, groups=channels)


def weighted_ce(seg_logits: Tensor, label: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
    """mmseg 0.x ``CrossEntropyLoss`` of a decode head: logits resized to
    the label (bilinear, ``align_corners=True`` here), per-pixel CE with
    ignore index 255, times the pixel weights, averaged over all pixels."""
    seg_logits = F.interpolate(seg_logits, size=label.shape[-2:],
                               mode='bilinear', align_corners=True)
    loss = F.cross_entropy(seg_logits, label, ignore_index=255,
                           reduction='none')
    if weight is not None:
        loss = loss * weight
    return loss.mean()


def class_mix_batch(src_img: Tensor, src_label: Tensor, tgt_img: Tensor,
                    pseudo_label: Tensor, pseudo_weight: Tensor,
                    choose: Callable[[int, int], Sequence[int]],
                    blur_sigmas: Optional[Sequence[float]]
                    ) -> Dict[str, Tensor]:
    """The mixing loop of ``DACS.forward_train``: ClassMix of each source
    image onto its target image (``get_class_masks``, ``strong_transform``
    with ``one_mix``), the pixel weight 1 where pasted, then the blur with
    the image's sigma (colour jitter not drawn).

    Args:
        src_img, tgt_img (Tensor): Normalised images (N, 3, H, W).
        src_label (Tensor): Source labels (N, 1, H, W).
        pseudo_label, pseudo_weight (Tensor): The target's (N, H, W).
        choose: The class draw of :func:`class_masks`.
        blur_sigmas (Sequence[float], optional): One sigma per image; None:
            no blur.

    Returns:
        dict[str, Tensor]: ``masks``, ``mixed_img`` (before the blur),
        ``mixed_label``, ``mixed_weight`` (N, H, W) and ``blurred`` (the
        images the student trains on).
    """
    gt_pixel_weight = torch.ones(pseudo_weight.shape)
    masks = class_masks(src_label, choose)
    mixed_img, mixed_lbl, mixed_weight, blurred = [], [], [], []
    for i, mask in enumerate(masks):
        img = one_mix(mask, torch.stack((src_img[i], tgt_img[i])))
        mixed_img.append(img)
        mixed_lbl.append(one_mix(mask, torch.stack(
            (src_label[i][0], pseudo_label[i]))))
        mixed_weight.append(one_mix(mask, torch.stack(
            (gt_pixel_weight[i], pseudo_weight[i]))))
        if blur_sigmas is not None:
            img = gaussian_blur(img, blur_sigmas[i])
        blurred.append(img)
    # labels and weights come out (1, 1, H, W) per image; the decode head
    # squeezes the channel
    return dict(masks=torch.cat(masks)[:, 0],
                mixed_img=torch.cat(mixed_img),
                mixed_label=torch.cat(mixed_lbl)[:, 0],
                mixed_weight=torch.cat(mixed_weight)[:, 0],
                blurred=torch.cat(blurred))


def dacs_step(student: nn.Module,
              teacher: nn.Module,
              optimizer: torch.optim.Optimizer,
              src_img: Tensor,
              src_label: Tensor,
              tgt_img: Tensor,
              threshold: float,
              choose: Callable[[int, int], Sequence[int]],
              blur_sigmas: Optional[Sequence[float]],
              imnet: Optional[nn.Module] = None,
              fdist: Optional[dict] = None,
              ignore_top: int = 0,
              ignore_bottom: int = 0,
              mic: Optional[Callable[..., Dict[str, Tensor]]] = None
              ) -> Dict[str, object]:
    """One ``DACS.forward_train`` plus the optimizer step of its
    ``train_step``, with the colour jitter not drawn (``color_jitter <=
    color_jitter_probability``) and the blur drawn on (``blur > 0.5``) with
    the given per-image sigmas, or off when ``blur_sigmas`` is None.

    Args:
        student, teacher (nn.Module): The segmentor and the EMA teacher.
        optimizer: The student's optimizer.
        src_img, tgt_img (Tensor): Normalised images (N, 3, H, W).
        src_label (Tensor): Source labels (N, 1, H, W).
        threshold (float): ``pseudo_threshold``.
        choose: The class draw of :func:`class_masks`.
        blur_sigmas (Sequence[float], optional): One sigma per image.
        imnet (nn.Module, optional): The frozen ImageNet segmentor; with it
            the feature distance is on.
        fdist (dict, optional): ``classes``, ``min_ratio``, ``n_classes``
            and ``lam`` (``imnet_feature_dist_*``, ``num_classes``).
        ignore_top, ignore_bottom (int): ``pseudo_weight_ignore_top`` and
            ``pseudo_weight_ignore_bottom``.
        mic (callable, optional): MIC's step, called as ``mic(student,
            tgt_img, pseudo_label, pseudo_weight)`` after the mixed loss's
            backward; what it returns joins the output.

    Returns:
        dict: The source CE, the FD (with ``imnet``), pseudo-label and
        weight (after the crop), masks, mixed image (before the blur),
        label and weight, the mixed CE, MIC's output (with ``mic``) and the
        student's gradients before the optimizer step.
    """
    optimizer.zero_grad()
    out = {}
    # train on source images; the same features feed the FD
    src_feat = student.backbone(src_img)
    src_loss = weighted_ce(student.decode_head(src_feat), src_label[:, 0])
    src_loss.backward(retain_graph=imnet is not None)
    out['src_loss'] = src_loss.detach()

    # ImageNet feature distance
    if imnet is not None:
        with torch.no_grad():
            imnet.eval()
            feat_imnet = [f.detach() for f in imnet.backbone(src_img)]
        feat_loss = ref_calc_feat_dist(src_feat, feat_imnet, src_label,
                                       fdist['classes'], fdist['min_ratio'],
                                       fdist['n_classes'], fdist['lam'])
        feat_loss.backward()
        out['feat_loss'] = feat_loss.detach()

    # pseudo-labels of the EMA teacher (train mode, no dropout/drop path)
    with torch.no_grad():
        ema_logits = logits(teacher, tgt_img)
        ema_logits = F.interpolate(ema_logits, size=tgt_img.shape[2:],
                                   mode='bilinear', align_corners=True)
    pseudo_label, pseudo_weight = pseudo_label_and_weight(
        ema_logits, threshold)
    pseudo_weight = ref_filter_valid_pseudo_region(pseudo_weight, ignore_top,
                                                   ignore_bottom)
    out['pseudo_label'], out['pseudo_weight'] = pseudo_label, pseudo_weight

    # ClassMix, then the strong transform, image by image
    mixed = class_mix_batch(src_img, src_label, tgt_img, pseudo_label,
                            pseudo_weight, choose, blur_sigmas)
    blurred = mixed.pop('blurred')
    out.update(mixed)

    mix_loss = weighted_ce(logits(student, blurred),
                           out['mixed_label'], out['mixed_weight'])
    mix_loss.backward()
    out['mix_loss'] = mix_loss.detach()
    if mic is not None:
        out.update(mic(student, tgt_img, pseudo_label, pseudo_weight))
    out['grads'] = {name: p.grad.clone()
                    for name, p in student.named_parameters()
                    if p.grad is not None}
    optimizer.step()
    return out
