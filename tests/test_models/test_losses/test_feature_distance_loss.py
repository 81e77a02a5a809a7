"""Tests of DAFormer's thing-class ImageNet feature distance.

Reference: lhoyer/MIC ``seg/mmseg/models/uda/dacs.py`` (``calc_feat_dist``,
``masked_feat_dist``), re-stated in ``tests/reference/daformer_fd.py``;
numbers from lhoyer/MIC
``seg/configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py``.
"""
import math

import pytest
import torch
from mmseg.registry import MODELS

from mmseg_uda.models.losses.feature_distance_loss import (
    FeatureDistanceLoss, feature_distance)
from tests.reference.daformer_fd import DAFORMER_CONFIG, ref_calc_feat_dist
from tests.test_models.test_utils.test_downscale_label_ratio import \
    blocky_labels

THINGS = DAFORMER_CONFIG['imnet_feature_dist_classes']


def features(seed, n=2, c=5, h=4, w=6, levels=2):
    """Student feature levels (requiring grad) and ImageNet ones; the last
    level is (n, c, h, w), earlier ones twice as large."""
    g = torch.Generator().manual_seed(seed)
    student, imnet = [], []
    for lvl in range(levels):
        k = 2**(levels - 1 - lvl)
        student.append(torch.randn(n, c, h * k, w * k, generator=g,
                                   requires_grad=True))
        imnet.append(torch.randn(n, c, h * k, w * k, generator=g))
    return student, imnet


def test_daformer_numbers_are_the_defaults():
    """Pinned to lhoyer/MIC seg/configs/daformer/
    gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py."""
    loss = MODELS.build(dict(type='FeatureDistanceLoss'))
    assert isinstance(loss, FeatureDistanceLoss)
    assert loss.loss_weight == 0.005
    assert loss.thing_classes == (6, 7, 11, 12, 13, 14, 15, 16, 17, 18)
    assert loss.scale_min_ratio == 0.75
    assert loss.ignore_index == 255
    assert loss.loss_name == 'loss_imnet_feat_dist'
    assert (loss.loss_weight, list(loss.thing_classes),
            loss.scale_min_ratio) == (
                DAFORMER_CONFIG['imnet_feature_dist_lambda'], THINGS,
                DAFORMER_CONFIG['imnet_feature_dist_scale_min_ratio'])


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('scale', [2, 4])
def test_equals_original_value_and_gradient(seed, scale):
    student, imnet = features(seed)
    label = blocky_labels(seed, h=4, w=6, s=scale)
    ours = FeatureDistanceLoss()(student, imnet, label)
    ref_student = [f.detach().clone().requires_grad_() for f in student]
    ref = ref_calc_feat_dist(ref_student, imnet, label, THINGS, 0.75, 19,
                             0.005)
    assert torch.isfinite(ref) and ref > 0
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)
    ours.backward()
    ref.backward()
    # Only the last level is used, as in the original.
    assert student[0].grad is None or not student[0].grad.any()
    torch.testing.assert_close(student[-1].grad, ref_student[-1].grad,
                               rtol=1e-6, atol=1e-7)


def test_mask_selects_only_thing_pixels():
    student, imnet = features(0, n=1, c=3, h=2, w=2, levels=1)
    # Blocks: thing 13 (car), stuff 0 (road), thing 6 at 3/4, ignore.
    label = torch.tensor([[13, 13, 0, 0], [13, 13, 0, 0],
                          [6, 6, 255, 255], [6, 1, 255, 255]])[None, None]
    loss, mask = feature_distance(student, imnet, label)
    assert mask.squeeze().tolist() == [[True, False], [True, False]]
    dist = (student[0] - imnet[0]).norm(dim=1)[0]
    expected = 0.005 * (dist[0, 0] + dist[1, 0]) / 2
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-7)
    # A thing share just below 0.75 drops that block.
    label[0, 0, 2, 1] = 1
    loss, mask = feature_distance(student, imnet, label)
    assert mask.squeeze().tolist() == [[True, False], [False, False]]
    torch.testing.assert_close(loss, 0.005 * dist[0, 0])


@pytest.mark.parametrize('fill', [0, 255])
def test_no_thing_pixel(fill):
    """The original's mean over no pixel is NaN with zero gradient; the
    function keeps the NaN, the module gives a finite 0 with zero grad."""
    student, imnet = features(1)
    label = torch.full((2, 1, 16, 24), fill)
    ref = ref_calc_feat_dist([f.detach() for f in student], imnet, label,
                             THINGS, 0.75, 19, 0.005)
    assert math.isnan(ref.item())
    raw, mask = feature_distance(student, imnet, label)
    assert math.isnan(raw.item()) and not mask.any()
    loss = FeatureDistanceLoss()(student, imnet, label)
    assert loss.item() == 0.0
    loss.backward()
    assert not student[-1].grad.any()


def test_no_classes_means_every_pixel():
    student, imnet = features(2)
    label = torch.zeros(2, 1, 16, 24, dtype=torch.long)
    loss = FeatureDistanceLoss(thing_classes=())(student, imnet, label)
    ref = ref_calc_feat_dist(student, imnet, label, None, 0.75, 19, 0.005)
    torch.testing.assert_close(loss, ref, rtol=1e-6, atol=1e-7)


def test_imnet_features_get_no_gradient():
    student, imnet = features(3)
    imnet = [f.requires_grad_() for f in imnet]
    label = blocky_labels(3, s=4, noise=0.0)
    FeatureDistanceLoss(thing_classes=range(19))(student, imnet,
                                                 label).backward()
    assert imnet[-1].grad is None


def test_bad_input():
    student, imnet = features(0)
    label = torch.zeros(2, 1, 16, 24, dtype=torch.long)
    with pytest.raises(ValueError, match='differ in shape'):
        feature_distance(student, imnet[:1], label)
    with pytest.raises(ValueError, match='integer multiple'):
        feature_distance(student, imnet, label[..., :12, :])
    with pytest.raises(ValueError, match='outside'):
        FeatureDistanceLoss(thing_classes=(19, ))
    with pytest.raises(ValueError, match='scale_min_ratio'):
        FeatureDistanceLoss(scale_min_ratio=0)
    with pytest.raises(ValueError, match='loss_weight'):
        FeatureDistanceLoss(loss_weight=-0.005)
    with pytest.raises(TypeError, match='loss_weight'):
        FeatureDistanceLoss(loss_weight='0.005')
