"""UDAEncoderDecoder ``probs_to_ori_shape``: BDL's probabilities."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.structures import SegDataSample

from tests.reference.models import build_deeplabv2


def _samples(n, img_shape, ori_shape):
    return [SegDataSample(metainfo=dict(img_shape=img_shape,
                                        ori_shape=ori_shape))
            for _ in range(n)]


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_deeplabv2(num_classes=5, depth=50).eval()


def test_probabilities_softmax_then_one_upsampling(model):
    x = torch.randn(2, 3, 40, 72) * 50
    ori = (40, 72)  # BDL: labels at the input size
    model.test_cfg = ConfigDict(mode='whole', logits_to_ori_shape=True,
                                probs_to_ori_shape=True)
    with torch.no_grad():
        out = model.predict(x, _samples(2, (40, 72), ori))
        logits = model.decode_head(model.extract_feat(x))
        direct = F.interpolate(logits.softmax(dim=1), size=ori,
                               mode='bilinear', align_corners=True)
        raw = model.whole_inference(x, [s.metainfo for s in
                                        _samples(2, (40, 72), ori)])
    assert logits.shape[-2:] != ori  # really upsampled
    for i, sample in enumerate(out):
        probs = sample.seg_logits.data
        assert probs.shape == (5, *ori)
        # mmseg's postprocess resizes to the same size: values untouched
        assert torch.equal(probs, raw[i])
        assert torch.allclose(probs, direct[i], atol=1e-6)
        assert torch.allclose(probs.sum(0), torch.ones(ori), atol=1e-5)
        assert torch.equal(sample.pred_sem_seg.data[0], probs.argmax(0))
    # softmax before the upsampling differs from softmax after it
    after = F.interpolate(logits, size=ori, mode='bilinear',
                          align_corners=True).softmax(dim=1)
    assert not torch.allclose(direct, after, atol=1e-4)


def test_larger_ori_shape(model):
    x = torch.randn(1, 3, 40, 72) * 50
    ori = (80, 144)
    model.test_cfg = ConfigDict(mode='whole', logits_to_ori_shape=True,
                                probs_to_ori_shape=True)
    with torch.no_grad():
        out = model.predict(x, _samples(1, (40, 72), ori))
        direct = F.interpolate(
            model.decode_head(model.extract_feat(x)).softmax(dim=1),
            size=ori, mode='bilinear', align_corners=True)
    assert torch.allclose(out[0].seg_logits.data, direct[0], atol=1e-6)


def test_logits_unchanged_without_the_option(model):
    x = torch.randn(1, 3, 40, 72) * 50
    ori = (40, 72)
    model.test_cfg = ConfigDict(mode='whole', logits_to_ori_shape=True)
    with torch.no_grad():
        out = model.predict(x, _samples(1, (40, 72), ori))
        direct = F.interpolate(model.decode_head(model.extract_feat(x)),
                               size=ori, mode='bilinear', align_corners=True)
    assert torch.allclose(out[0].seg_logits.data, direct[0], atol=1e-5)
    assert out[0].seg_logits.data.min() < 0  # logits, not probabilities


def test_option_needs_logits_to_ori_shape(model):
    model.test_cfg = ConfigDict(mode='whole', probs_to_ori_shape=True)
    x = torch.randn(1, 3, 40, 72)
    with pytest.raises(ValueError, match='logits_to_ori_shape'):
        with torch.no_grad():
            model.predict(x, _samples(1, (40, 72), (40, 72)))
