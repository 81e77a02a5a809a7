"""Tests of DAFormer's pseudo-label crop.

Reference: lhoyer/MIC ``seg/mmseg/models/uda/dacs.py``
(``DACS.filter_valid_pseudo_region``, applied to the target pseudo-weight
before the ClassMix in ``forward_train``), re-stated in
``tests/reference/daformer_fd.py``; numbers from lhoyer/MIC
``seg/configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py``.
"""
import inspect

import pytest
import torch

from mmseg_uda.models.utils.class_mix import class_mix
from mmseg_uda.models.utils.pseudo_weight_crop import crop_pseudo_weight
from tests.reference.daformer_dacs import one_mix as ref_one_mix
from tests.reference.daformer_fd import (DAFORMER_CONFIG,
                                         ref_filter_valid_pseudo_region)

TOP = DAFORMER_CONFIG['pseudo_weight_ignore_top']
BOTTOM = DAFORMER_CONFIG['pseudo_weight_ignore_bottom']


def test_daformer_numbers():
    """Pinned to lhoyer/MIC seg/configs/daformer/
    gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py."""
    assert (TOP, BOTTOM) == (15, 120)


def test_daformer_crop_on_a_512_crop():
    weight = torch.full((2, 512, 512), 0.9)
    out = crop_pseudo_weight(weight, TOP, BOTTOM)
    assert (out[:, :15] == 0).all() and (out[:, 392:] == 0).all()
    assert (out[:, 15:392] == 0.9).all()
    assert (weight == 0.9).all(), 'the input must not be modified'


@pytest.mark.parametrize('top, bottom', [(0, 0), (1, 0), (0, 3), (2, 5),
                                         (7, 9), (20, 20)])
def test_equals_original(top, bottom):
    g = torch.Generator().manual_seed(top * 31 + bottom)
    weight = torch.rand(2, 11, 6, generator=g)
    ours = crop_pseudo_weight(weight, top, bottom)
    ref = ref_filter_valid_pseudo_region(weight.clone(), top, bottom)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)


def test_mixed_weight_equals_original():
    """Crop first, then mix: source pixels pasted into the cropped rows
    carry weight 1, target pixels there 0, as in the original."""
    g = torch.Generator().manual_seed(0)
    n, h, w = 2, 12, 5
    weight = torch.rand(n, h, w, generator=g)
    mask = torch.rand(n, h, w, generator=g) > 0.5
    src_img, tgt_img = torch.rand(2, n, 3, h, w, generator=g)
    src_lbl, ps_lbl = torch.randint(0, 19, (2, n, h, w), generator=g)
    _, _, ours = class_mix(mask, src_img, tgt_img, src_lbl, ps_lbl,
                           crop_pseudo_weight(weight, 2, 3))
    cropped = ref_filter_valid_pseudo_region(weight.clone(), 2, 3)
    ones = torch.ones_like(cropped)
    ref = torch.cat([
        ref_one_mix(mask[i][None].float(), torch.stack((ones[i],
                                                         cropped[i])))
        for i in range(n)
    ])
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)
    assert (ours[:, :2][mask[:, :2]] == 1).all()
    assert (ours[:, :2][~mask[:, :2]] == 0).all()


def test_defaults_crop_nothing():
    assert inspect.signature(crop_pseudo_weight).parameters[
        'ignore_top'].default == 0
    weight = torch.rand(1, 4, 4)
    assert torch.equal(crop_pseudo_weight(weight), weight)


@pytest.mark.parametrize('weight, top, bottom, match', [
    (torch.ones(1, 1, 4, 4), 1, 1, 'shape'),
    (torch.ones(1, 4, 4), -1, 0, 'ignore_top'),
    (torch.ones(1, 4, 4), 0, 1.5, 'ignore_bottom'),
])
def test_bad_input(weight, top, bottom, match):
    with pytest.raises(ValueError, match=match):
        crop_pseudo_weight(weight, top, bottom)
