"""Plain-torch re-statements of HRDA's multi-resolution model, written
from lhoyer/MIC ``seg/mmseg/models/segmentors/hrda_encoder_decoder.py``
(``get_crop_bbox``, ``crop``, ``extract_slide_feat``, ``encode_decode``,
``_forward_train_features``), ``seg/mmseg/models/decode_heads/
hrda_head.py`` (``scale_box``, ``decode_hr``, ``forward``, ``losses``) and
``seg/mmseg/models/segmentors/encoder_decoder.py`` (``slide_inference``
with ``batched_slide``), step by step as the original computes them.

The per-scale head, the attention head and the backbone are passed in as
callables (the same modules as the model under test), so the tests compare
the HRDA logic on identical weights.
"""
import numpy as np
import torch
import torch.nn.functional as F

# lhoyer/MIC seg/configs/hrda/gtaHR2csHR_hrda.py
ORIGINAL_GTAHR2CSHR_HRDA = dict(
    scales=[1, 0.5],
    hr_crop_size=[512, 512],
    feature_scale=0.5,
    crop_coord_divisible=8,
    hr_slide_inference=True,
    attention_classwise=True,
    hr_loss_weight=0.1,
    test_cfg=dict(mode='slide', batched_slide=True, stride=[512, 512],
                  crop_size=[1024, 1024]),
)
# lhoyer/MIC seg/mmseg/models/segmentors/hrda_encoder_decoder.py:
# HRDAEncoderDecoder defaults the shipped config keeps
ORIGINAL_SEGMENTOR_DEFAULTS = dict(hr_slide_overlapping=True,
                                   blur_hr_crop=False)
# lhoyer/MIC seg/mmseg/models/decode_heads/hrda_head.py: HRDAHead defaults
# and self.os of a DAFormerHead.
ORIGINAL_HEAD_DEFAULTS = dict(lr_loss_weight=0, attention_embed_dim=256,
                              daformer_os=4)


def get_crop_bbox(img_h, img_w, crop_size, divisible=1):
    """HRDA's random crop box."""
    assert crop_size[0] > 0 and crop_size[1] > 0
    if img_h == crop_size[-2] and img_w == crop_size[-1]:
        return (0, img_h, 0, img_w)
    margin_h = max(img_h - crop_size[-2], 0)
    margin_w = max(img_w - crop_size[-1], 0)
    offset_h = np.random.randint(0, (margin_h + 1) // divisible) * divisible
    offset_w = np.random.randint(0, (margin_w + 1) // divisible) * divisible
    return (offset_h, offset_h + crop_size[0], offset_w,
            offset_w + crop_size[1])


def crop(img, box):
    y1, y2, x1, x2 = box
    if img.dim() == 4:
        return img[:, :, y1:y2, x1:x2]
    if img.dim() == 3:
        return img[:, y1:y2, x1:x2]
    return img[y1:y2, x1:x2]


def scale_box(box, scale):
    return tuple(int(v / scale) for v in box)


def _resize(x, scale_factor):
    return F.interpolate(x, scale_factor=scale_factor, mode='bilinear',
                         align_corners=False)


def decode_hr(head, inp, bs, os):
    """HRDAHead.decode_hr."""
    if not isinstance(inp, dict):
        return head(inp)
    boxes = [scale_box(b, os) for b in inp['boxes']]
    h_img = max(b[1] for b in boxes)
    w_img = max(b[3] for b in boxes)
    return _average(head(inp['features']), boxes, bs, head.num_classes,
                    h_img, w_img)


def _average(crop_seg_logits, boxes, bs, num_classes, h_img, w_img):
    """The pad-and-count loop shared by ``decode_hr`` and
    ``slide_inference`` in the original."""
    preds = torch.zeros((bs, num_classes, h_img, w_img))
    count_mat = torch.zeros((bs, 1, h_img, w_img))
    for i, (y1, y2, x1, x2) in enumerate(boxes):
        crop_seg_logit = crop_seg_logits[i * bs:(i + 1) * bs]
        preds += F.pad(crop_seg_logit, (int(x1), int(preds.shape[3] - x2),
                                        int(y1), int(preds.shape[2] - y2)))
        count_mat[:, :, y1:y2, x1:x2] += 1
    assert (count_mat == 0).sum() == 0
    return preds / count_mat


def hrda_head_forward(head, attention, inputs, scales, os=4,
                      hr_crop_box=None):
    """HRDAHead.forward: returns (fused_seg, lr_seg, hr_seg)."""
    lr_inp, hr_inp = inputs
    lr_scale, hr_scale = scales[0], scales[1]
    batch_size = lr_inp[0].shape[0]
    lr_seg = head(lr_inp)
    hr_seg = decode_hr(head, hr_inp, batch_size, os)
    att = torch.sigmoid(attention(lr_inp))
    if hr_crop_box is not None:
        mask = lr_seg.new_zeros([lr_seg.shape[0], 1, *lr_seg.shape[2:]])
        y1, y2, x1, x2 = scale_box(hr_crop_box, os / lr_scale)
        mask[:, :, y1:y2, x1:x2] = 1
        att = att * mask
    lr_seg = (1 - att) * lr_seg
    up_lr_seg = _resize(lr_seg, hr_scale / lr_scale)
    att = _resize(att, hr_scale / lr_scale)
    if hr_crop_box is not None:
        hr_seg_inserted = torch.zeros_like(up_lr_seg)
        y1, y2, x1, x2 = scale_box(hr_crop_box, os)
        hr_seg_inserted[:, :, y1:y2, x1:x2] = hr_seg
    else:
        hr_seg_inserted = hr_seg
    fused_seg = att * hr_seg_inserted + up_lr_seg
    return fused_seg, lr_seg, hr_seg


def _scaled(img, s):
    return img if s == 1 else _resize(img, s)


def extract_slide_feat(backbone, img, crop_size, overlapping=True):
    """HRDAEncoderDecoder.extract_slide_feat."""
    if overlapping:
        h_stride, w_stride = [e // 2 for e in crop_size]
    else:
        h_stride, w_stride = crop_size
    crop_boxes = [list(box) for box in _grid(img, crop_size,
                                              (h_stride, w_stride))]
    crop_imgs = [crop(img, box) for box in crop_boxes]
    return {'features': backbone(torch.cat(crop_imgs, dim=0)),
            'boxes': crop_boxes}


def _grid(img, crop_size, stride):
    """The window loop shared by ``extract_slide_feat`` and
    ``slide_inference`` in the original."""
    h_stride, w_stride = stride
    h_crop, w_crop = crop_size
    _, _, h_img, w_img = img.size()
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    boxes = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1 = h_idx * h_stride
            x1 = w_idx * w_stride
            y2 = min(y1 + h_crop, h_img)
            x2 = min(x1 + w_crop, w_img)
            y1 = max(y2 - h_crop, 0)
            x1 = max(x2 - w_crop, 0)
            boxes.append((y1, y2, x1, x2))
    return boxes


def encode_decode(backbone, head, attention, img, scales, crop_size,
                  hr_slide_inference=True, os=4):
    """HRDAEncoderDecoder.encode_decode (upscale_pred=True); ``scales``
    sorted ascending."""
    mres_feats = []
    for i, s in enumerate(scales):
        scaled_img = _scaled(img, s)
        if i >= 1 and hr_slide_inference:
            mres_feats.append(extract_slide_feat(backbone, scaled_img,
                                                 crop_size))
        else:
            mres_feats.append(backbone(scaled_img))
    out = hrda_head_forward(head, attention, mres_feats, scales, os)[0]
    return F.interpolate(out, size=img.shape[2:], mode='bilinear',
                         align_corners=False)


def forward_train_features(backbone, img, scales, crop_size, divisible,
                           box=None):
    """HRDAEncoderDecoder._forward_train_features; returns the features
    and the detail crop box (numpy's global generator, as the original;
    a given ``box`` stands for that draw)."""
    mres_feats, crop_box = [], None
    for i, s in enumerate(scales):
        scaled_img = _resize(img, s)
        if crop_size is not None and i >= 1:
            crop_box = box if box is not None else get_crop_bbox(
                *scaled_img.shape[-2:], crop_size, divisible)
            scaled_img = crop(scaled_img, crop_box)
        mres_feats.append(backbone(scaled_img))
    return mres_feats, crop_box


def slide_inference(encode, img, num_classes, stride, crop_size):
    """EncoderDecoder.slide_inference with ``batched_slide=True`` (no
    rescale): ``encode`` maps a batch of windows to logits at their size."""
    batch_size, _, h_img, w_img = img.size()
    crops = _grid(img, crop_size, stride)
    crop_imgs = [crop(img, box) for box in crops]
    crop_seg_logits = encode(torch.cat(crop_imgs, dim=0))
    return _average(crop_seg_logits, crops, batch_size, num_classes, h_img,
                    w_img)


def _ce(seg_logit, seg_label, seg_weight=None):
    """BaseDecodeHead.losses with one CrossEntropyLoss (weight 1):
    logits resized to the label, per-pixel CE (ignore 255) times the
    pixel weight, mean over all pixels."""
    seg_logit = F.interpolate(seg_logit, size=seg_label.shape[2:],
                              mode='bilinear', align_corners=False)
    loss = F.cross_entropy(seg_logit, seg_label.squeeze(1), reduction='none',
                           ignore_index=255)
    if seg_weight is not None:
        loss = loss * seg_weight
    return loss.mean()


def hrda_losses(seg_logits, seg_label, seg_weight=None, hr_crop_box=None,
                lr_loss_weight=0, hr_loss_weight=0):
    """HRDAHead.losses; ``seg_label`` (N, 1, H, W), ``seg_weight``
    (N, H, W)."""
    fused_seg, lr_seg, hr_seg = seg_logits
    loss = {'loss_seg': _ce(fused_seg, seg_label, seg_weight)}
    if hr_loss_weight == 0 and lr_loss_weight == 0:
        return loss
    if lr_loss_weight > 0:
        loss['lr.loss_seg'] = _ce(lr_seg, seg_label, seg_weight)
    if hr_loss_weight > 0 and hr_crop_box is not None:
        cropped_weight = None if seg_weight is None else crop(
            seg_weight, hr_crop_box)
        loss['hr.loss_seg'] = _ce(hr_seg, crop(seg_label, hr_crop_box),
                                  cropped_weight)
    elif hr_loss_weight > 0:
        loss['hr.loss_seg'] = _ce(hr_seg, seg_label, seg_weight)
    loss['loss_seg'] *= (1 - lr_loss_weight - hr_loss_weight)
    if lr_loss_weight > 0:
        loss['lr.loss_seg'] *= lr_loss_weight
    if hr_loss_weight > 0:
        loss['hr.loss_seg'] *= hr_loss_weight
    return loss
