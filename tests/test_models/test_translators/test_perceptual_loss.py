"""Image format conversion, perceptual distance and the frozen segmentor."""
import math

import pytest
import torch

from mmseg_uda.models.translators import (build_frozen_segmentor,
                                          perceptual_distance,
                                          unit_rgb_to_segmentor_input)
from .helpers import build_translator, write_tiny_segmentor


def test_unit_rgb_to_caffe_bgr():
    # one pixel, RGB (-1, 0, 1) -> BGR (1, 0, -1) -> (255, 127.5, 0) - mean
    rgb = torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1)
    out = unit_rgb_to_segmentor_input(rgb).flatten().tolist()
    expected = [255 - 104.00698793, 127.5 - 116.66876762, 0 - 122.67891434]
    assert out == pytest.approx(expected, abs=1e-4)
    # RGB input with std: (x * 127.5 + 127.5 - mean) / std, no flip
    out = unit_rgb_to_segmentor_input(rgb, mean=(10, 20, 30),
                                      std=(2, 4, 5), bgr=False)
    assert out.flatten().tolist() == pytest.approx(
        [(0 - 10) / 2, (127.5 - 20) / 4, (255 - 30) / 5])
    with pytest.raises(ValueError, match='N, 3, H, W'):
        unit_rgb_to_segmentor_input(torch.zeros(1, 1, 2, 2))


def test_perceptual_distance_by_hand():
    a = torch.tensor([0.0, 1.0, 2.0, 3.0]).view(1, 1, 2, 2)
    b = torch.tensor([3.0, 2.0, 1.0, 0.0]).view(1, 1, 2, 2)
    # IN(a) = (a - 1.5) / sqrt(1.25 + eps) = -IN(b): d = 4 mean(IN(a)^2)
    expected = 4 * 1.25 / (1.25 + 1e-5)
    assert perceptual_distance(a, b).item() == pytest.approx(expected)
    # per-channel and per-image statistics: a scaled, shifted copy is at 0
    x = torch.randn(2, 3, 4, 5)
    scale = torch.tensor([2.0, 0.5, 3.0]).view(1, 3, 1, 1)
    assert perceptual_distance(x * scale + 7, x).item() == pytest.approx(
        0, abs=1e-6)
    # matches nn.InstanceNorm2d(C, affine=False) as BDL computes it
    y = torch.randn(2, 3, 4, 5)
    norm = torch.nn.InstanceNorm2d(3, affine=False)
    ref = torch.mean((norm(x) - norm(y))**2)
    assert math.isclose(perceptual_distance(x, y).item(), ref.item(),
                        rel_tol=1e-5)
    with pytest.raises(ValueError, match='shapes differ'):
        perceptual_distance(x, y[:1])


def test_frozen_segmentor_from_uda_checkpoint(tmp_path):
    config, checkpoint, state = write_tiny_segmentor(str(tmp_path), seed=3)
    torch.manual_seed(99)  # other initial weights: the checkpoint wins
    seg = build_frozen_segmentor(config, checkpoint)
    assert not seg.training
    assert not any(p.requires_grad for p in seg.parameters())
    for key, value in seg.state_dict().items():
        torch.testing.assert_close(value, state[key], msg=key)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        build_frozen_segmentor(config, str(tmp_path / 'missing.pth'))
    with pytest.raises(FileNotFoundError, match='nope.py'):
        build_frozen_segmentor(str(tmp_path / 'nope.py'))


def _no_host_reads(monkeypatch):
    """Make every tensor-to-host read fail (a GPU sync each)."""

    def refuse(*args, **kwargs):
        raise AssertionError('host read of a tensor in the perceptual loss')

    for name in ('tolist', 'item', 'cpu', 'numpy', '__float__'):
        monkeypatch.setattr(torch.Tensor, name, refuse)


@pytest.mark.slow
def test_semantic_logits_read_no_tensor_to_host(tmp_path, monkeypatch):
    """The segmentor's input format is read once, at build time: the
    perceptual loss of a step makes no host round trip (a GPU sync), and
    the logits are bit-identical to those of the per-call format."""
    config, checkpoint, _ = write_tiny_segmentor(str(tmp_path))
    model = build_translator(
        perceptual_segmentor=dict(config=config, checkpoint=checkpoint))
    seg = model.perceptual_segmentor
    pre = seg.data_preprocessor
    torch.manual_seed(0)
    src, tgt = (torch.rand(2, 3, 32, 32) * 2 - 1 for _ in range(2))
    images = {k: torch.rand(2, 3, 32, 32) * 2 - 1 for k in (
        's2t', 't2s', 'rec_source', 'rec_target')}
    # the format as read before: Python lists from the preprocessor
    before = seg(unit_rgb_to_segmentor_input(
        src, mean=pre.mean.flatten().tolist(), std=pre.std.flatten().tolist(),
        bgr=not pre.channel_conversion), mode='tensor')

    _no_host_reads(monkeypatch)
    logits = model.semantic_logits(src)
    terms = model.perceptual_losses(src, tgt, images)
    monkeypatch.undo()
    assert torch.equal(logits, before)
    assert len(terms) == 4
    # the format follows the model (non-persistent buffers): not saved
    assert not any('perceptual' in k for k in model.state_dict())
