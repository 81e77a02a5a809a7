"""DACSUDASegmentor with HRDA's pseudo-label margins: target samples that
carry a ``valid_pseudo_mask`` get no pseudo-label weight in the margins,
before the ClassMix and for MIC, as the original's
``filter_valid_pseudo_region`` (lhoyer/MIC ``seg/mmseg/models/uda/dacs.py``,
re-stated in tests/reference/hrda_margins.py)."""
import copy

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmseg_uda.datasets.transforms import PseudoLabelMargins
from mmseg_uda.models.uda import dacs_uda_segmentor
from mmseg_uda.models.uda.dacs_uda_segmentor import DACSUDASegmentor
from mmseg_uda.models.utils.pseudo_weight_crop import (
    filter_valid_pseudo_region, stack_valid_pseudo_masks)
from tests.reference.daformer_dacs import one_mix
from tests.reference.hrda_margins import ref_filter_valid_pseudo_region
from tests.test_models.test_segmentors.test_hrda_encoder_decoder import \
    _cfg as hrda_cfg
from tests.test_models.test_uda.test_dacs_uda_segmentor import (
    DAFORMER_THRESHOLD, TEACHER_SCALE, _batch, _model, _optim)
from tests.test_models.test_uda.test_mic_dacs import TINY_MIC

# margins of the tiny 32x32 crops (HRDA: [30, 240, 30, 30] of 2048x1024
# images, pinned in tests/test_datasets/test_transforms/)
MARGINS = [3, 5, 2, 4]


def _masked_target(sizes=((32, 32), (32, 32))) -> dict:
    """A target batch whose samples carry the mask PseudoLabelMargins
    makes (the second one flipped), at each image's size."""
    batch = _batch(1, False)
    for i, (size, sample) in enumerate(zip(sizes, batch['data_samples'])):
        batch['inputs'][i] = batch['inputs'][i][:, :size[0], :size[1]]
        results = PseudoLabelMargins(MARGINS)(dict(
            img=np.zeros((*size, 3), np.uint8), flip=i == 1,
            flip_direction='horizontal'))
        sample.valid_pseudo_mask = PixelData(
            data=torch.from_numpy(results['valid_pseudo_mask'])[None])
        sample.set_metainfo(dict(img_shape=size, ori_shape=size))
    return batch


def _record(monkeypatch, owner, name) -> list:
    """Record the arguments (and result) of every call of ``owner.name``."""
    calls = []
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append((args, kwargs, out))
        return out

    monkeypatch.setattr(owner, name, spy)
    return calls


def _step(monkeypatch, target: dict, **kwargs) -> dict:
    """One DACS step (ClassMix, MIC) with a confident teacher; what the
    step used: the pseudo-label weight, the ClassMix inputs and outputs and
    the weights of each weighted CE."""
    model = _model(multi_level=False, pseudo_threshold=DAFORMER_THRESHOLD,
                   mix='class', mask_consistency=TINY_MIC, **kwargs)
    model.train()
    with torch.no_grad():
        for param in model.teacher.decode_head.parameters():
            param.mul_(TEACHER_SCALE)
    seen = dict(
        pseudo_label=_record(monkeypatch, model, 'pseudo_label'),
        class_mix=_record(monkeypatch, dacs_uda_segmentor, 'class_mix'),
        weighted_step=_record(monkeypatch, model, 'weighted_step'))
    data = dict(source=_batch(0, True), target=target)
    seen['log_vars'] = model.train_step(copy.deepcopy(data), _optim(model))
    seen['model'] = model
    return seen


def test_the_step_zeroes_the_margins_as_the_original(monkeypatch):
    target = _masked_target()
    seen = _step(monkeypatch, target)
    (_, weight), = [call[2] for call in seen['pseudo_label']]
    assert 0 < weight.item() < 1
    masks = torch.stack([s.valid_pseudo_mask.data
                         for s in target['data_samples']])
    # the original on the same tensors: the weight map, then in place
    expected = ref_filter_valid_pseudo_region(
        weight * torch.ones(2, 32, 32), 0, 0, masks)
    assert (expected[:, :MARGINS[0]] == 0).all()
    assert (expected[:, -MARGINS[1]:] == 0).all()
    assert (expected[0, :, :MARGINS[2]] == 0).all()
    assert (expected[0, :, -MARGINS[3]:] == 0).all()
    # the second image was flipped: its left/right margins swapped sides
    assert (expected[1, :, -MARGINS[2]:] == 0).all()
    assert (expected[1, :, :MARGINS[3]] == 0).all()
    assert (expected[1, MARGINS[0]:-MARGINS[1], MARGINS[3]] == weight).all()

    # the ClassMix mixes the masked weight
    (args, _, (_, _, mixed)), = seen['class_mix']
    mix_masks, target_weight = args[0], args[5]
    torch.testing.assert_close(target_weight, expected)
    ref_mixed = torch.cat([one_mix(m[None, None].float(), torch.stack(
        (torch.ones(32, 32), w))) for m, w in zip(mix_masks, expected)])[:, 0]
    torch.testing.assert_close(mixed, ref_mixed)
    # in the margins: 1 where the source is pasted, 0 on target pixels
    top = mixed[:, :MARGINS[0]]
    assert (top[mix_masks[:, :MARGINS[0]]] == 1).all()
    assert (top[~mix_masks[:, :MARGINS[0]]] == 0).all()

    # the weights the student's two weighted CEs were given
    steps = {call[0][3]: call[0] for call in seen['weighted_step']}
    assert set(steps) == {'mix', 'masked'}
    torch.testing.assert_close(steps['mix'][2], ref_mixed)
    # MIC gets the target pseudo-labels with the masked weight, as the
    # original passes its filtered pseudo_weight to self.mic
    torch.testing.assert_close(steps['masked'][2], expected)
    # the logged pseudo-weight is the fraction of confident pixels
    assert seen['log_vars']['mix.pseudo_weight'].item() == pytest.approx(
        weight.item())


def test_a_padded_target_image_gets_no_weight_on_the_padding(monkeypatch):
    """The preprocessor pads the smaller image at the bottom and right
    (mmseg's stack_batch); its mask is padded with 0 to match."""
    target = _masked_target(sizes=((32, 32), (26, 29)))
    seen = _step(monkeypatch, target)
    (_, weight), = [call[2] for call in seen['pseudo_label']]
    (args, _, _), = seen['class_mix']
    target_weight = args[5]
    assert target_weight.shape == (2, 32, 32)
    small = target_weight[1]
    assert (small[26:] == 0).all() and (small[:, 29:] == 0).all()
    inner = small[:26, :29]
    assert (inner[:MARGINS[0]] == 0).all() and \
        (inner[-MARGINS[1]:] == 0).all()
    assert (inner[:, -MARGINS[2]:] == 0).all() and \
        (inner[:, :MARGINS[3]] == 0).all()
    assert (inner[MARGINS[0]:-MARGINS[1], MARGINS[3]:-MARGINS[2]]
            == weight).all()


def test_the_row_crop_and_the_margins_exclude_each_other(monkeypatch):
    """The original asserts it; here a ValueError before any work (no
    forward pass: not even BN statistics change)."""
    model = _model(multi_level=False, pseudo_weight_ignore_top=3)
    model.train()
    before = copy.deepcopy(model.state_dict())
    data = dict(source=_batch(0, True), target=_masked_target())
    with pytest.raises(ValueError, match='exclude each other'):
        model.train_step(data, _optim(model))
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    # without the masks the same model steps
    data['target'] = _batch(1, False)
    model.train_step(data, _optim(model))
    assert not torch.equal(model.state_dict()['segmentor.backbone.bn1.'
                                              'running_mean'],
                           before['segmentor.backbone.bn1.running_mean'])
    # and on plain tensors: any row crop with a mask is refused
    weight = torch.ones(1, 4, 4)
    with pytest.raises(ValueError, match='exclude each other'):
        filter_valid_pseudo_region(weight, 0, 1, torch.ones(1, 4, 4))
    with pytest.raises(AssertionError):  # the original
        ref_filter_valid_pseudo_region(weight, 0, 1, torch.ones(1, 1, 4, 4))


def test_filter_equals_the_original_and_leaves_its_input():
    gen = torch.Generator().manual_seed(0)
    weight = torch.rand(3, 6, 7, generator=gen)
    mask = torch.randint(0, 2, (3, 1, 6, 7), generator=gen,
                         dtype=torch.uint8)
    before = weight.clone()
    ours = filter_valid_pseudo_region(weight, 0, 0, mask[:, 0].bool())
    assert torch.equal(weight, before)
    assert torch.equal(ours, ref_filter_valid_pseudo_region(
        weight.clone(), 0, 0, mask))
    # without a mask: the row crop as before, or the weight itself
    assert torch.equal(filter_valid_pseudo_region(weight, 2, 1),
                       ref_filter_valid_pseudo_region(weight.clone(), 2, 1,
                                                      None))
    assert filter_valid_pseudo_region(weight) is weight


def _sample(mask=None):
    sample = SegDataSample()
    if mask is not None:
        sample.valid_pseudo_mask = PixelData(data=mask)
    return sample


def test_masks_are_stacked_padded_or_refused():
    ones = torch.ones(1, 3, 4, dtype=torch.uint8)
    assert stack_valid_pseudo_masks([_sample(), _sample()], (3, 4)) is None
    stacked = stack_valid_pseudo_masks(
        [_sample(ones), _sample(torch.ones(1, 2, 3, dtype=torch.bool))],
        (3, 4))
    assert stacked.dtype == torch.bool and stacked.shape == (2, 3, 4)
    assert stacked[0].all()
    assert stacked[1, :2, :3].all() and not stacked[1, 2].any() and \
        not stacked[1, :, 3].any()
    with pytest.raises(ValueError, match='exclude each other'):
        stack_valid_pseudo_masks([_sample(ones)], (3, 4), (0, 2))
    assert stack_valid_pseudo_masks([_sample()], (3, 4), (0, 2)) is None
    with pytest.raises(ValueError, match='target sample 1 has none'):
        stack_valid_pseudo_masks([_sample(ones), _sample()], (3, 4))
    for bad in (torch.ones(1, 4, 4), torch.ones(1, 3, 5), torch.ones(2, 3, 4)):
        with pytest.raises(ValueError, match=r'must be \(1, h, w\)'):
            stack_valid_pseudo_masks([_sample(bad)], (3, 4))


def test_an_hrda_student_gets_the_mask_at_the_full_input_size(monkeypatch):
    """With HRDA (the margins' method) the teacher's pseudo-labels come
    from sliding detail windows over the whole 64x64 input; the mask, at
    the input size, zeroes their weight in the margins."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = DACSUDASegmentor(
        segmentor=hrda_cfg(),
        data_preprocessor=dict(type='UDASegDataPreProcessor',
                               mean=[0., 0., 0.], std=[255., 255., 255.],
                               size_divisor=1),
        pseudo_threshold=0.0, mix='class')
    model.init_weights()
    model.train()
    seen = _record(monkeypatch, dacs_uda_segmentor, 'class_mix')
    source, target = _batch(0, True, (64, 64)), _batch(1, False, (64, 64))
    for sample, flip in zip(target['data_samples'], (False, True)):
        results = PseudoLabelMargins(MARGINS)(dict(
            img=np.zeros((64, 64, 3), np.uint8), flip=flip,
            flip_direction='horizontal'))
        sample.valid_pseudo_mask = PixelData(
            data=torch.from_numpy(results['valid_pseudo_mask'])[None])
    model.train_step(dict(source=source, target=target), _optim(model))
    (args, _, _), = seen
    masks = torch.stack([s.valid_pseudo_mask.data
                         for s in target['data_samples']])
    # threshold 0: every pixel is confident, the weight is the mask
    expected = ref_filter_valid_pseudo_region(torch.ones(2, 64, 64), 0, 0,
                                              masks)
    assert torch.equal(args[5], expected)
