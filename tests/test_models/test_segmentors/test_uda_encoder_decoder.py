"""UDAEncoderDecoder: the originals' evaluation protocol."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.structures import SegDataSample

from tests.reference.models import build_deeplabv2


def _samples(n, img_shape, ori_shape, **extra):
    return [
        SegDataSample(metainfo=dict(img_shape=img_shape, ori_shape=ori_shape,
                                    **extra)) for _ in range(n)
    ]


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_deeplabv2(num_classes=5, depth=50).eval()


def test_logits_upsampled_once_to_ori_shape(model):
    x = torch.randn(2, 3, 40, 72) * 50
    ori = (80, 144)
    model.test_cfg = ConfigDict(mode='whole', logits_to_ori_shape=True)
    with torch.no_grad():
        out = model.predict(x, _samples(2, (40, 72), ori))
        direct = F.interpolate(model.decode_head(model.extract_feat(x)),
                               size=ori, mode='bilinear', align_corners=True)
    for i, sample in enumerate(out):
        assert sample.seg_logits.data.shape == (5, *ori)
        assert torch.allclose(sample.seg_logits.data, direct[i], atol=1e-5)
        assert torch.equal(sample.pred_sem_seg.data[0], direct[i].argmax(0))


def test_stock_behaviour_without_the_option(model):
    x = torch.randn(1, 3, 40, 72) * 50
    ori = (80, 144)
    model.test_cfg = ConfigDict(mode='whole')
    with torch.no_grad():
        out = model.predict(x, _samples(1, (40, 72), ori))
        logits = model.decode_head(model.extract_feat(x))
        two_step = F.interpolate(
            F.interpolate(logits, size=(40, 72), mode='bilinear',
                          align_corners=True),
            size=ori, mode='bilinear', align_corners=True)
        one_step = F.interpolate(logits, size=ori, mode='bilinear',
                                 align_corners=True)
    assert torch.allclose(out[0].seg_logits.data, two_step[0], atol=1e-5)
    # the two protocols really differ
    assert not torch.allclose(two_step, one_step, atol=1e-4)


def test_padding_or_mixed_sizes_refused(model):
    model.test_cfg = ConfigDict(mode='whole', logits_to_ori_shape=True)
    x = torch.randn(2, 3, 40, 72)
    samples = _samples(1, (40, 72), (80, 144)) + \
        _samples(1, (40, 72), (40, 72))
    with pytest.raises(ValueError, match='one original size'):
        model.predict(x, samples)
    with pytest.raises(ValueError, match='padded'):
        model.predict(x[:1], _samples(1, (40, 72), (80, 144),
                                      padding_size=[0, 8, 0, 0]))


def test_levels_and_feats_come_from_one_backbone_pass(model):
    x = torch.randn(1, 3, 40, 72) * 50
    calls = []
    handle = model.backbone.register_forward_hook(
        lambda *args: calls.append(1))
    try:
        with torch.no_grad():
            levels, feats = model(x, mode='levels_and_feats')
            plain = model(x, mode='levels')
            extracted = model.extract_feat(x)
    finally:
        handle.remove()
    assert len(calls) == 3  # one pass per call
    assert set(levels) == set(plain) == set(model.level_names())
    for name, logits in plain.items():
        assert torch.equal(levels[name], logits)
    assert len(feats) == len(extracted)
    for feat, expected in zip(feats, extracted):
        assert torch.equal(feat, expected)
    assert torch.equal(levels['main'], model.decode_head(feats))
