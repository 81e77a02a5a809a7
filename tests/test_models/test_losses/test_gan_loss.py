"""GANLoss: the one GAN objective of the adversarial models and the
translator."""
import math

import pytest
import torch
from mmseg.registry import MODELS

from mmseg_uda.models.losses import GANLoss, build_gan_loss
from mmseg_uda.models.uda import AdversarialUDASegmentor
from ..test_translators.helpers import build_translator


def _bce(x: float, label: float) -> float:
    """Binary cross-entropy of one logit, written out."""
    p = 1.0 / (1.0 + math.exp(-x))
    return -(label * math.log(p) + (1 - label) * math.log(1 - p))


def test_vanilla_is_bce_with_logits_by_hand():
    loss = GANLoss('vanilla')
    logits = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    for label in (0.0, 1.0):
        want = sum(_bce(x, label) for x in (0.5, -1.0, 2.0, 0.0)) / 4
        assert loss(logits, label).item() == pytest.approx(want, rel=1e-6)


def test_lsgan_is_mse_and_weight_scales():
    logits = torch.tensor([0.5, -1.0, 3.0])
    want = ((0.5 - 1) ** 2 + (-1.0 - 1) ** 2 + (3.0 - 1) ** 2) / 3
    assert GANLoss('lsgan')(logits, 1.0).item() == pytest.approx(want)
    weighted = MODELS.build(dict(type='GANLoss', gan_type='lsgan',
                                 loss_weight=0.5))
    assert weighted(logits, 1.0).item() == pytest.approx(0.5 * want)


def test_score_separates_labels_at_one_half():
    logits = torch.tensor([-0.1, 0.1, 0.7])
    assert GANLoss('vanilla').score(logits).gt(0.5).tolist() == \
        [False, True, True]
    assert GANLoss('lsgan').score(logits).gt(0.5).tolist() == \
        [False, False, True]


def test_build_from_string_or_config_and_refusals():
    assert build_gan_loss('lsgan').gan_type == 'lsgan'
    assert build_gan_loss(dict(gan_type='vanilla')).gan_type == 'vanilla'
    with pytest.raises(ValueError, match="gan_loss must be one of"):
        build_gan_loss('wgan')
    with pytest.raises(TypeError, match='gan_loss'):
        build_gan_loss(3)


def test_models_share_the_registered_loss():
    translator = build_translator(gan_loss='vanilla')
    assert isinstance(translator.gan_loss, GANLoss)
    assert translator.gan_loss.gan_type == 'vanilla'
    # the adversarial models hold no GAN objective of their own
    assert 'gan_loss' not in vars(AdversarialUDASegmentor)
