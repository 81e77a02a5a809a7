"""UDAEncoderDecoder ``output_at_input_size``: the predictions IntraDA ranks
and BDL labels, at the size the images are fed, whatever ``ori_shape``."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmseg.structures import SegDataSample

from tests.reference.models import build_deeplabv2

IMG = (40, 72)


def _samples(n, ori_shape):
    return [SegDataSample(metainfo=dict(img_shape=IMG, ori_shape=ori_shape,
                                        img_path=f'{i}.png'))
            for i in range(n)]


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_deeplabv2(num_classes=5, depth=50).eval()


@pytest.mark.parametrize('probs', [False, True])
def test_same_values_as_when_ori_shape_was_the_input_size(model, probs):
    """The values the jobs got before, with ``ori_shape`` rewritten to the
    input size, now come with the real ``ori_shape`` left alone."""
    x = torch.randn(2, 3, *IMG) * 50
    options = dict(mode='whole', logits_to_ori_shape=True,
                   probs_to_ori_shape=probs)
    with torch.no_grad():
        model.test_cfg = ConfigDict(options)
        before = model.predict(x, _samples(2, IMG))
        model.test_cfg = ConfigDict(options, output_at_input_size=True)
        now = model.predict(x, _samples(2, (1024, 2048)))
    for old, new in zip(before, now):
        assert new.ori_shape == (1024, 2048) and new.img_path
        assert new.seg_logits.data.shape == (5, *IMG)
        assert torch.equal(new.seg_logits.data, old.seg_logits.data)
        assert torch.equal(new.pred_sem_seg.data, old.pred_sem_seg.data)


def test_options_hold_only_for_the_job(model):
    x = torch.randn(1, 3, *IMG) * 50
    own = ConfigDict(mode='whole', logits_to_ori_shape=True)
    model.test_cfg = own
    with torch.no_grad():
        with model.test_cfg_options(output_at_input_size=True):
            inside = model.predict(x, _samples(1, (80, 144)))
        after = model.predict(x, _samples(1, (80, 144)))
    assert inside[0].seg_logits.data.shape[-2:] == IMG
    assert after[0].seg_logits.data.shape[-2:] == (80, 144)
    assert model.test_cfg is own and 'output_at_input_size' not in own


def test_needs_the_one_step_upsampling(model):
    model.test_cfg = ConfigDict(mode='whole', output_at_input_size=True)
    with pytest.raises(ValueError, match='needs `logits_to_ori_shape'):
        model.predict(torch.zeros(1, 3, *IMG), _samples(1, IMG))
