"""One MIC(HRDA) iteration of the original, re-stated with plain torch for
the tests.

Source: lhoyer/MIC ``seg/mmseg/models/uda/dacs.py`` (``DACS.forward_train``
and ``train_step`` with an ``HRDAEncoderDecoder`` student and EMA teacher),
``seg/mmseg/models/uda/masking_consistency_module.py``
(``MaskingConsistencyModule.__call__``, ``mask_mode='separatetrgaug'``,
``mask_alpha='same'``, ``mask_pseudo_threshold='same'``),
``seg/mmseg/models/segmentors/hrda_encoder_decoder.py`` (``forward_train``,
``extract_feat``, ``generate_pseudo_label``) and ``seg/mmseg/models/
decode_heads/hrda_head.py`` (``forward_train``, ``losses``).

Composed from the other re-statements: the HRDA forward, losses and sliding
inference of tests/reference/hrda.py, the pseudo-label, ClassMix and blur of
tests/reference/daformer_dacs.py, the feature distance and pseudo-label
crop of tests/reference/daformer_fd.py and the masked image of
tests/reference/mic.py. In the order of ``forward_train``:

1. ``forward_train(img, gt, return_feat=True)`` of the student: context at
   scale 0.5, a detail crop at scale 1, the fused and detail losses (logged
   by the original as ``decode.loss_seg``, ``decode.hr.loss_seg`` and their
   ``acc_seg``); the features of ``feature_scale`` 0.5 (the context) go to
   the feature distance, whose ``calc_feat_dist`` takes its single-scale
   branch (``feature_scale`` is not ``'all'``): the last level against the
   frozen ImageNet model's ``extract_feat`` (the image resized to 0.5);
   ``src.loss_imnet_feat_dist``; both backed;
2. the teacher's ``generate_pseudo_label`` = ``encode_decode``: context plus
   overlapping sliding detail windows, fused, upsampled to the image; the
   pseudo-label and weight; the pseudo-label crop (``pseudo_weight_ignore_*``)
   or the loader's ``valid_pseudo_mask``;
3. ClassMix and blur, ``forward_train`` of the mixed images with the mixed
   pixel weights (``mix.*``), backward;
4. MIC: the blurred, block-masked target images, ``forward_train`` with the
   pseudo-labels and weights of step 2 (``masked.*``), backward;
5. one optimizer step.

The student is held as the original holds it: ``backbone``, and a
``decode_head`` with the per-scale ``head`` and the ``scale_attention``
head. Every random draw comes in as an argument: the three detail crop
boxes (source, mixed and masked forward; the original draws each in its
``forward_train``), the class choice, the blur sigmas, the mask's block
draws. Not re-stated: debug images and the EMA update (at the start of the
next iteration in the original; a hook in ours).
"""
from typing import Callable, Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .daformer_dacs import class_mix_batch, pseudo_label_and_weight
from .daformer_fd import ref_calc_feat_dist, ref_filter_valid_pseudo_region
from .hrda import (crop, encode_decode, forward_train_features,
                   hrda_head_forward, hrda_losses)
from .mic import augmented_masked_image


def _parts(segmentor: nn.Module) -> tuple:
    """The original's module names: ``backbone``, ``decode_head.head``,
    ``decode_head.scale_attention``."""
    head = segmentor.decode_head
    return segmentor.backbone, head.head, head.scale_attention


def accuracy(seg_logit: Tensor, seg_label: Tensor) -> Tensor:
    """``BaseDecodeHead.losses``' ``acc_seg``: logits resized to the label
    (bilinear, ``align_corners=False``), top-1 hits over all pixels, in
    percent (mmseg 0.x ``accuracy``)."""
    seg_logit = F.interpolate(seg_logit, size=seg_label.shape[2:],
                              mode='bilinear', align_corners=False)
    hits = seg_logit.argmax(dim=1).eq(seg_label.squeeze(1))
    return hits.float().sum().view(1) * 100.0 / seg_label[:, 0].numel()


def hrda_forward_train(segmentor: nn.Module, img: Tensor, label: Tensor,
                       weight: Optional[Tensor], box: tuple,
                       hrda: dict) -> tuple:
    """``HRDAEncoderDecoder.forward_train`` with the detail crop ``box``.

    Args:
        segmentor (nn.Module): The HRDA segmentor.
        img (Tensor): Normalised images (N, 3, H, W).
        label (Tensor): Labels (N, 1, H, W).
        weight (Tensor, optional): Pixel weights (N, H, W).
        box (tuple): The detail crop ``(y1, y2, x1, x2)`` in pixels of the
            detail scale.
        hrda (dict): ``scales`` (ascending), ``crop_size``, ``divisible``,
            ``os`` (the head's output stride), ``hr_loss_weight`` and
            ``feature_scale``.

    Returns:
        tuple: The loss terms under the original's names (``decode.*``,
        unprefixed), and the features of ``feature_scale``.
    """
    backbone, head, attention = _parts(segmentor)
    scales = hrda['scales']
    feats, box = forward_train_features(backbone, img, scales,
                                        hrda['crop_size'], hrda['divisible'],
                                        box=box)
    fused, lr_seg, hr_seg = hrda_head_forward(head, attention, feats, scales,
                                              os=hrda['os'], hr_crop_box=box)
    losses = hrda_losses((fused, lr_seg, hr_seg), label, weight, box,
                         hr_loss_weight=hrda['hr_loss_weight'])
    losses['acc_seg'] = accuracy(fused, label)
    losses['hr.acc_seg'] = accuracy(hr_seg, crop(label, box))
    losses = {f'decode.{key}': value for key, value in losses.items()}
    return losses, feats[scales.index(hrda['feature_scale'])]


def _backward(losses: Dict[str, Tensor], prefix: str, out: dict,
              retain_graph: bool = False) -> None:
    """``_parse_losses`` and ``backward``: the terms logged under
    ``prefix``, their ``loss`` terms summed and backed."""
    out['log'].update({f'{prefix}{k}': v.detach() for k, v in losses.items()})
    sum(v for k, v in losses.items() if 'loss' in k).backward(
        retain_graph=retain_graph)


def mic_hrda_step(student: nn.Module,
                  teacher: nn.Module,
                  imnet: nn.Module,
                  optimizer: torch.optim.Optimizer,
                  src_img: Tensor,
                  src_label: Tensor,
                  tgt_img: Tensor,
                  hrda: dict,
                  boxes: Sequence[tuple],
                  threshold: float,
                  fdist: dict,
                  choose: Callable[[int, int], Sequence[int]],
                  blur_sigmas: Sequence[float],
                  mask_draws: Tensor,
                  mask_ratio: float,
                  mask_blur_sigmas: Sequence[float],
                  ignore_top: int = 0,
                  ignore_bottom: int = 0,
                  valid_pseudo_mask: Optional[Tensor] = None
                  ) -> Dict[str, object]:
    """One iteration of the original MIC(HRDA) (see the module docstring),
    the colour jitter not drawn and the blur drawn on.

    Args:
        student, teacher (nn.Module): HRDA segmentors (the teacher in train
            mode, as the original's EMA model, with dropout off).
        imnet (nn.Module): The frozen ImageNet copy (``backbone``).
        optimizer: The student's optimizer.
        src_img, tgt_img (Tensor): Normalised images (N, 3, H, W).
        src_label (Tensor): Source labels (N, 1, H, W).
        hrda (dict): See :func:`hrda_forward_train`.
        boxes (Sequence[tuple]): The detail crops of the source, mixed and
            masked forward passes.
        threshold (float): ``pseudo_threshold``.
        fdist (dict): ``classes``, ``min_ratio``, ``n_classes``, ``lam``.
        choose: The class draw of ClassMix.
        blur_sigmas (Sequence[float]): The mixed images' sigmas.
        mask_draws (Tensor): MIC's block draws (N, 1, rows, cols).
        mask_ratio (float): ``mask_ratio``.
        mask_blur_sigmas (Sequence[float]): The masked images' sigmas.
        ignore_top, ignore_bottom (int): ``pseudo_weight_ignore_*``.
        valid_pseudo_mask (Tensor, optional): The loader's margins
            (N, 1, H, W).

    Returns:
        dict: ``log`` (every logged term under the original's names),
        ``pseudo_label``, ``pseudo_weight`` (after the crop),
        ``pseudo_logits`` (the teacher's, upsampled), the ClassMix outputs
        of ``class_mix_batch``, ``masked_img`` and ``grads`` (the student's
        gradients before the optimizer step).
    """
    optimizer.zero_grad()
    out = {'log': {}}
    # 1. source losses and the feature distance on the context features
    src_losses, src_feat = hrda_forward_train(student, src_img, src_label,
                                              None, boxes[0], hrda)
    _backward(src_losses, '', out, retain_graph=True)
    with torch.no_grad():
        imnet.eval()
        small = F.interpolate(src_img, scale_factor=hrda['feature_scale'],
                              mode='bilinear', align_corners=False)
        feat_imnet = [f.detach() for f in imnet.backbone(small)]
    feat_loss = ref_calc_feat_dist(src_feat, feat_imnet, src_label,
                                   fdist['classes'], fdist['min_ratio'],
                                   fdist['n_classes'], fdist['lam'])
    _backward({'loss_imnet_feat_dist': feat_loss}, 'src.', out)

    # 2. the teacher's sliding pseudo-labels
    with torch.no_grad():
        backbone, head, attention = _parts(teacher)
        ema_logits = encode_decode(backbone, head, attention, tgt_img,
                                   hrda['scales'], hrda['crop_size'],
                                   os=hrda['os'])
    pseudo_label, pseudo_weight = pseudo_label_and_weight(ema_logits,
                                                          threshold)
    pseudo_weight = ref_filter_valid_pseudo_region(pseudo_weight, ignore_top,
                                                   ignore_bottom)
    if valid_pseudo_mask is not None:
        pseudo_weight *= valid_pseudo_mask.squeeze(1)
    out.update(pseudo_logits=ema_logits, pseudo_label=pseudo_label,
               pseudo_weight=pseudo_weight)

    # 3. ClassMix, blur, the mixed losses
    mixed = class_mix_batch(src_img, src_label, tgt_img, pseudo_label,
                            pseudo_weight, choose, blur_sigmas)
    out.update(mixed)
    mix_losses, _ = hrda_forward_train(
        student, mixed['blurred'], mixed['mixed_label'][:, None],
        mixed['mixed_weight'], boxes[1], hrda)
    _backward(mix_losses, 'mix.', out)

    # 4. MIC on the blurred, masked target images
    out['masked_img'] = augmented_masked_image(tgt_img, mask_draws,
                                               mask_ratio, mask_blur_sigmas)
    masked_losses, _ = hrda_forward_train(student, out['masked_img'],
                                          pseudo_label[:, None],
                                          pseudo_weight, boxes[2], hrda)
    _backward(masked_losses, 'masked.', out)

    out['grads'] = {name: p.grad.clone()
                    for name, p in student.named_parameters()
                    if p.grad is not None}
    optimizer.step()
    return out
