"""One MIC(HRDA) training step on a tiny configuration against the
re-statement of the original's iteration (tests/reference/mic_hrda_step.py,
from lhoyer/MIC seg/mmseg/models/uda/dacs.py, masking_consistency_module.py,
segmentors/hrda_encoder_decoder.py and decode_heads/hrda_head.py): every
logged term, the pseudo-labels and weights, the mixed and masked images,
the gradients and the weights after the step."""
import copy
import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from mmseg_uda.models.segmentors import hrda_encoder_decoder
from mmseg_uda.models.uda import dacs_uda_segmentor
from mmseg_uda.models.uda.dacs_uda_segmentor import DACSUDASegmentor
from mmseg_uda.models.utils import masking_transforms, mix_augmentation
from tests.reference import hrda as ref_hrda
from tests.reference.daformer_dacs import pseudo_label_and_weight
from tests.reference.mic_hrda_step import mic_hrda_step
from tests.test_models.test_segmentors.test_hrda_encoder_decoder import (
    BACKBONE, NUM_CLASSES)
from tests.test_models.test_segmentors.test_hrda_encoder_decoder import \
    _cfg as hrda_cfg
from tests.test_models.test_uda.test_dacs_uda_segmentor import (
    DAFORMER_THRESHOLD, _batch, _optim, _spy, drawn_classes)
from tests.test_models.test_uda.test_mic_dacs import (MIC_CONFIG,
                                                      _all_calls,
                                                      _step_keeping_grads)

SIZE = (64, 64)
# the tiny HRDA of tests/test_models/test_segmentors: context 64x64 at 0.5,
# a 32x32 detail crop at offsets divisible by 8, 32x32 detail windows
# (stride 16) for the pseudo-labels; the MiT's last stage keeps stride 16,
# so that the feature distance compares 2x2 context features
HRDA = dict(scales=[0.5, 1], crop_size=(32, 32), divisible=8, os=4,
            hr_loss_weight=0.1, feature_scale=0.5)
# MIC's masks: blocks of 16 on the 64x64 crop (a 4x4 grid)
TINY_MIC = dict(MIC_CONFIG, mask_generator=dict(
    type='block', mask_ratio=0.7, mask_block_size=16))
FD = dict(type='FeatureDistanceLoss', loss_weight=0.5, thing_classes=[2, 3],
          scale_min_ratio=0.75)
# where the pseudo-labels are not trusted: DAFormer's row crop (top,
# bottom rows), or HRDA's loader-side margins, a ``valid_pseudo_mask`` per
# target image (0 in the margins the training crop kept: all four sides of
# the first image, the top and right of the second)
TOP, BOTTOM = 4, 12
MARGINS = ((4, 12, 2, 2), (6, 0, 0, 8))
# DAFormer's / HRDA's normalisation (RGB)
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
# source labels on a 4x4 grid of 16x16 cells: each image holds classes
# 0-3 (the batch's classes, as ClassMix's original draw assumes), and some
# 32x32 quadrants are one thing class, so the FD's 2x2 mask is not empty
GRIDS = ([[2, 2, 0, 1], [2, 2, 3, 0], [1, 3, 2, 2], [0, 1, 2, 2]],
         [[3, 3, 1, 0], [3, 3, 0, 2], [0, 1, 2, 1], [2, 0, 1, 3]])
# makes the teacher confident enough that some pixels, not all, reach the
# threshold
TEACHER_SCALE = 12.0

# our logged terms and the names lhoyer/MIC logs them under
# (``_parse_losses`` of ``forward_train``'s dict: the decode head's terms
# prefixed ``decode.``, the source ones not prefixed, the mixed and masked
# ones ``mix.`` and ``masked.``)
_LEVEL_TERMS = {'main.loss_ce': 'decode.loss_seg',
                'main.acc_seg': 'decode.acc_seg',
                'hr.loss_ce': 'decode.hr.loss_seg',
                'hr.acc_seg': 'decode.hr.acc_seg'}
LOG_NAMES = {
    f'{prefix}.{ours}': theirs if prefix == 'src' else f'{prefix}.{theirs}'
    for prefix in ('src', 'mix', 'masked')
    for ours, theirs in _LEVEL_TERMS.items()
}
LOG_NAMES['src.loss_imnet_feat_dist'] = 'src.loss_imnet_feat_dist'


def _model(rows: tuple) -> DACSUDASegmentor:
    """MIC(HRDA) on the tiny HRDA segmentor, colour jitter off, blur on,
    the pseudo-label row crop ``rows``."""
    init_default_scope('mmseg')
    backbone = dict(BACKBONE, strides=[4, 2, 2, 1])
    segmentor = hrda_cfg(backbone=backbone, head=dict(dropout_ratio=0.0))
    torch.manual_seed(0)
    model = DACSUDASegmentor(
        segmentor=segmentor,
        data_preprocessor=dict(type='UDASegDataPreProcessor', mean=MEAN,
                               std=STD, bgr_to_rgb=True, size=SIZE),
        pseudo_threshold=DAFORMER_THRESHOLD, mix='class',
        color_jitter_prob=0.0, blur_prob=1.0, imnet_feature_dist=FD,
        pseudo_weight_ignore_top=rows[0], pseudo_weight_ignore_bottom=rows[1],
        mask_consistency=TINY_MIC)
    model.init_weights()
    # the teacher starts as the student (the EMA's first iteration), made
    # more confident
    model.teacher.load_state_dict(model.segmentor.state_dict())
    with torch.no_grad():
        for param in model.teacher.decode_head.head.parameters():
            param.mul_(TEACHER_SCALE)
    return model.train()


def _valid_masks() -> torch.Tensor:
    """The target images' ``valid_pseudo_mask`` (N, 1, H, W) of
    ``MARGINS``."""
    masks = torch.ones(len(MARGINS), 1, *SIZE, dtype=torch.uint8)
    for mask, (top, bottom, left, right) in zip(masks, MARGINS):
        mask[:, :top] = 0
        mask[:, SIZE[0] - bottom:] = 0
        mask[:, :, :left] = 0
        mask[:, :, SIZE[1] - right:] = 0
    return masks


def _data(margins: bool) -> dict:
    source = _batch(0, True, SIZE)
    for sample, grid in zip(source['data_samples'], GRIDS):
        sample.gt_sem_seg.data = torch.as_tensor(grid)[None].repeat_interleave(
            16, dim=1).repeat_interleave(16, dim=2)
    target = _batch(1, False, SIZE)
    if margins:
        for sample, mask in zip(target['data_samples'], _valid_masks()):
            sample.valid_pseudo_mask = PixelData(data=mask)
    return dict(source=source, target=target)


def _normalised(data: dict, domain: str) -> torch.Tensor:
    """The preprocessor's images: BGR to RGB, minus mean, over std."""
    img = torch.stack(data[domain]['inputs']).float().flip(1)
    return (img - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(
        STD).view(1, 3, 1, 1)


class _Step:
    """Our step with every draw and intermediate recorded, and the
    re-statement fed the same draws."""

    def __init__(self, monkeypatch, margins: bool):
        self.margins = margins
        self.rows = (0, 0) if margins else (TOP, BOTTOM)
        self.model = _model(self.rows)
        self.reference = copy.deepcopy(self.model)
        self.data = _data(margins)
        self.seen = {}
        for owner, name in ((dacs_uda_segmentor, 'class_mix_masks'),
                            (dacs_uda_segmentor, 'class_mix'),
                            (self.model, 'pseudo_label')):
            _spy(monkeypatch, owner, name, self.seen)
        self.boxes = _all_calls(monkeypatch, hrda_encoder_decoder,
                                'random_crop_box')
        self.blurs = _all_calls(monkeypatch, mix_augmentation,
                                'gaussian_blur')
        self.draws = _all_calls(monkeypatch, masking_transforms,
                                'block_draws')
        self.masked = _all_calls(monkeypatch, self.model.mic,
                                 'masked_images')
        self.grads = {}
        monkeypatch.setattr(self.model, 'step_optimizers', functools.partial(
            _step_keeping_grads, self.model, self.grads,
            self.model.step_optimizers))
        np.random.seed(0)
        self.log_vars = self.model.train_step(copy.deepcopy(self.data),
                                              _optim(self.model))
        self.src_label = torch.stack(
            [s.gt_sem_seg.data for s in self.data['source']['data_samples']])

    def expected(self) -> dict:
        """The original's iteration on a copy of the model before the
        step."""
        net = copy.deepcopy(self.reference)
        student = net.segmentor
        out = mic_hrda_step(
            student, net.teacher, net.imnet_model,
            torch.optim.SGD([p for p in student.parameters()
                             if p.requires_grad], lr=0.01),
            _normalised(self.data, 'source'), self.src_label,
            _normalised(self.data, 'target'), HRDA,
            boxes=[call[1] for call in self.boxes],
            threshold=DAFORMER_THRESHOLD,
            fdist=dict(classes=FD['thing_classes'],
                       min_ratio=FD['scale_min_ratio'],
                       n_classes=NUM_CLASSES, lam=FD['loss_weight']),
            choose=drawn_classes(self.seen, self.src_label,
                                 torch.arange(4)),
            blur_sigmas=self.blurs[0][0][1].tolist(),
            mask_draws=self.draws[0][1], mask_ratio=0.7,
            mask_blur_sigmas=self.blurs[1][0][1].tolist(),
            ignore_top=self.rows[0], ignore_bottom=self.rows[1],
            valid_pseudo_mask=_valid_masks() if self.margins else None)
        out['student'] = student
        return out


@pytest.fixture(scope='module', params=['row_crop', 'margins'])
def step(request):
    """Our step and the original's, with DAFormer's pseudo-label row crop
    or with HRDA's loader-side margins (as the shipped MIC(HRDA) configs).
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        run = _Step(monkeypatch, request.param == 'margins')
        yield run, run.expected()


def test_every_logged_term_equals_the_original(step):
    run, expected = step
    log_vars = run.log_vars
    # the source, mixed and masked forward passes each draw one detail
    # crop; the teacher's pseudo-labels draw none (sliding windows)
    assert len(run.boxes) == 3 and len(run.blurs) == 2
    assert len(run.draws) == 1 and len(run.masked) == 1
    # every term the original logs, plus the pseudo-weight
    assert set(log_vars) == set(LOG_NAMES) | {'mix.pseudo_weight'}
    assert set(expected['log']) == set(LOG_NAMES.values())
    # the FD's mask holds thing pixels, and MIC's loss is not trivial
    assert expected['log']['src.loss_imnet_feat_dist'] > 0.01
    assert expected['log']['masked.decode.loss_seg'] > 1e-3
    for ours, theirs in LOG_NAMES.items():
        # the original's accuracy has shape (1, ), ours is logged as 0-d
        torch.testing.assert_close(log_vars[ours].reshape(-1),
                                   expected['log'][theirs].reshape(-1),
                                   rtol=1e-5, atol=1e-6, msg=ours)
    # the detail losses carry HRDA's weight 0.1 (pinned against lhoyer/MIC
    # seg/configs/hrda/gtaHR2csHR_hrda.py in test_hrda_encoder_decoder.py)
    assert run.model.seg.decode_head.hr_loss_weight == HRDA['hr_loss_weight']


def test_pseudo_labels_are_the_sliding_teachers(step):
    run, expected = step
    labels, weight = run.seen['pseudo_label'][2]
    assert torch.equal(labels, expected['pseudo_label'])
    assert 0 < weight.item() < 1
    assert run.log_vars['mix.pseudo_weight'].item() == pytest.approx(
        weight.item())
    # the weight is the fraction of confident pixels, 0 where the
    # pseudo-labels are not trusted (this reaches the mixed weights)
    untrusted = torch.zeros(len(MARGINS), *SIZE, dtype=torch.bool)
    if run.margins:
        untrusted = _valid_masks()[:, 0] == 0
    else:
        untrusted[:, :TOP] = untrusted[:, SIZE[0] - BOTTOM:] = True
    pseudo_weight = expected['pseudo_weight']
    assert (pseudo_weight[untrusted] == 0).all()
    torch.testing.assert_close(
        pseudo_weight[~untrusted],
        torch.full_like(pseudo_weight[~untrusted], weight.item()))
    masks = run.seen['class_mix_masks'][2]
    assert torch.equal(masks, expected['masks'].bool())
    mixed_img, mixed_label, mixed_weight = run.seen['class_mix'][2]
    torch.testing.assert_close(mixed_img, expected['mixed_img'])
    assert torch.equal(mixed_label, expected['mixed_label'])
    torch.testing.assert_close(mixed_weight, expected['mixed_weight'])
    torch.testing.assert_close(run.masked[0][1], expected['masked_img'])
    assert (run.masked[0][1] == 0).any()


def test_gradients_and_updated_weights_equal_the_original(step):
    """Gradients after the three backward passes, the weights after the
    SGD step (lr 0.01) and the BN statistics.

    The tolerance is relative to each tensor's largest gradient: the blurred
    images (ours, and kornia's blur re-stated) differ by float rounding
    (about 1e-6), and the bias of the first patch embedding, under a
    LayerNorm, has gradients of about 200 that amplify it to about 2e-5 of
    their size; fed identical images, every gradient agrees to 2e-6 of its
    tensor's largest."""
    run, expected = step
    student = expected['student']
    ours = dict(run.model.segmentor.named_parameters())
    assert set(run.grads) == set(expected['grads'])
    # the detail head, the attention and the backbone all learn
    for part in ('backbone.', 'decode_head.head.',
                 'decode_head.scale_attention.'):
        assert any(k.startswith(part) for k in run.grads), part
    for name, param in student.named_parameters():
        theirs = expected['grads'].get(name)
        atol = 1e-6
        if theirs is not None:
            atol = 1e-4 * theirs.abs().max().item() + 1e-7
            torch.testing.assert_close(run.grads[name], theirs, rtol=0,
                                       atol=atol, msg=name)
            atol = 0.01 * atol + 1e-6
        torch.testing.assert_close(ours[name], param, rtol=1e-5, atol=atol,
                                   msg=name)
    # BN statistics of the three training forward passes
    buffers = dict(run.model.segmentor.named_buffers())
    assert any(name.endswith('running_mean') for name in buffers)
    for name, buf in student.named_buffers():
        torch.testing.assert_close(buffers[name], buf, rtol=1e-5, atol=1e-6,
                                   msg=name)
    # the step moved the student
    before = run.reference.segmentor.state_dict()
    assert not torch.equal(ours['decode_head.head.conv_seg.weight'],
                           before['decode_head.head.conv_seg.weight'])


def test_a_random_detail_crop_teacher_gives_other_pseudo_labels(step):
    """The comparison can fail: the teacher's fused logits with a random
    detail crop (a training forward pass, HRDA's ``forward_train``
    features) instead of the sliding windows change the pseudo-labels of
    this batch."""
    run, expected = step
    teacher = copy.deepcopy(run.reference.teacher)
    head = teacher.decode_head
    img = _normalised(run.data, 'target')
    np.random.seed(0)
    with torch.no_grad():
        feats, box = ref_hrda.forward_train_features(
            teacher.backbone, img, HRDA['scales'], HRDA['crop_size'],
            HRDA['divisible'])
        fused = ref_hrda.hrda_head_forward(head.head, head.scale_attention,
                                           feats, HRDA['scales'],
                                           hr_crop_box=box)[0]
    cropped, _ = pseudo_label_and_weight(
        F.interpolate(fused, size=SIZE, mode='bilinear'), DAFORMER_THRESHOLD)
    assert not torch.equal(cropped, expected['pseudo_label'])
