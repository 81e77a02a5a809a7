"""ADVENT's entropy loss and self-information map, hand-computed."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_uda  # noqa: F401
from mmseg_uda.models.losses import entropy_loss, self_information_map


def _probs():
    """(1, 4, 1, 4): uniform, two-way tie, one-hot, (0.25, 0.75, 0, 0)."""
    pixels = [[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0],
              [1.0, 0.0, 0.0, 0.0], [0.25, 0.75, 0.0, 0.0]]
    return torch.tensor(pixels).t().reshape(1, 4, 1, 4)


def test_self_information_map_by_hand():
    info = self_information_map(_probs())
    # -p log2 p / log2 4: 0.25 -> 0.25, 0.5 -> 0.25, 1 and 0 -> 0,
    # 0.75 -> 0.75 * 0.4150375 / 2
    expected = torch.tensor([[0.25, 0.25, 0.25, 0.25],
                             [0.25, 0.25, 0.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0],
                             [0.25, 0.155639062, 0.0, 0.0]]).t()
    torch.testing.assert_close(info[0, :, 0], expected, rtol=1e-6,
                               atol=1e-7)
    # exactly zero (no NaN) for probabilities of exactly 0 and 1
    assert info[0, :, 0, 2].eq(0).all()
    assert torch.isfinite(info).all()


def test_entropy_loss_by_hand():
    # pixel entropies / log2(4): 1, 0.5, 0, 0.8112781 / 2; mean over 4
    expected = (1.0 + 0.5 + 0.0 + 0.405639062) / 4
    assert entropy_loss(_probs()).item() == pytest.approx(expected,
                                                          rel=1e-6)
    # normalised by N*H*W: a batch of two copies gives the same value
    assert entropy_loss(torch.cat([_probs()] * 2)).item() == \
        pytest.approx(expected, rel=1e-6)
    # two classes: the normaliser log2(2) is 1
    two = torch.tensor([0.25, 0.75]).view(1, 2, 1, 1)
    assert entropy_loss(two).item() == pytest.approx(0.811278124, rel=1e-6)


def test_entropy_loss_module_on_saturated_logits():
    init_default_scope('mmseg')
    loss = MODELS.build(dict(type='EntropyLoss', loss_weight=2.0))
    # softmax of these logits is exactly one-hot / exactly (.5, .5, 0, 0)
    logits = torch.tensor([[1000.0, 0.0, 0.0, 0.0],
                           [1000.0, 1000.0, 0.0, 0.0]]).t().reshape(
                               1, 4, 1, 2).requires_grad_()
    probs = torch.softmax(logits, dim=1)
    assert probs[0, 1:, 0, 0].eq(0).all() and probs[0, 0, 0, 0] == 1
    value = loss(logits)
    assert value.item() == pytest.approx(2.0 * (0.0 + 0.5) / 2, rel=1e-6)
    value.backward()
    assert torch.isfinite(logits.grad).all()
    # probabilities given directly, exact 0 and 1: finite gradient
    direct = MODELS.build(dict(type='EntropyLoss', use_softmax=False))
    probs = _probs().requires_grad_()
    direct(probs).backward()
    assert torch.isfinite(probs.grad).all()
    assert direct.loss_name == 'loss_ent'


def test_entropy_loss_refuses_bad_shapes():
    with pytest.raises(ValueError, match='N, C, H, W'):
        entropy_loss(torch.ones(4, 3))
    with pytest.raises(ValueError, match='2 classes'):
        self_information_map(torch.ones(1, 1, 2, 2))
