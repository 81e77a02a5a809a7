"""Tests of ``downscale_label_ratio`` against lhoyer/MIC
``seg/mmseg/utils/utils.py`` (re-stated in ``tests/reference/daformer_fd.py``).
"""
import pytest
import torch

from mmseg_uda.models.utils.downscale_label_ratio import downscale_label_ratio
from tests.reference.daformer_fd import ref_downscale_label_ratio


def blocky_labels(seed, n=2, h=4, w=6, s=4, classes=19, noise=0.2):
    """Labels made of s x s blocks with a share of pixels changed."""
    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, classes, (n, 1, h, w), generator=g)
    big = small.repeat_interleave(s, 2).repeat_interleave(s, 3)
    flip = torch.rand(big.shape, generator=g) < noise
    other = torch.randint(0, classes, big.shape, generator=g)
    big = torch.where(flip, other, big)
    ignore = torch.rand(big.shape, generator=g) < 0.1
    return torch.where(ignore, torch.full_like(big, 255), big)


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('scale', [2, 4])
def test_equals_original(seed, scale):
    label = blocky_labels(seed)
    ours = downscale_label_ratio(label, scale, 0.75, 19, 255)
    ref = ref_downscale_label_ratio(label, scale, 0.75, 19, 255)
    assert torch.equal(ours, ref)
    # Not a trivial map: some blocks kept, some ignored.
    assert (ours == 255).any() and (ours != 255).any()


def test_ratio_exactly_at_threshold_is_kept():
    # A 2x2 block with 3 of 4 pixels of class 5: share 0.75 >= 0.75.
    label = torch.tensor([[[[5, 5], [5, 1]]]])
    assert downscale_label_ratio(label, 2, 0.75, 19).item() == 5
    assert ref_downscale_label_ratio(label, 2, 0.75, 19).item() == 5
    # Just above the share: ignored.
    assert downscale_label_ratio(label, 2, 0.76, 19).item() == 255


def test_ignore_majority_and_all_ignored():
    label = torch.tensor([[[[255, 255], [255, 3]]]])
    assert downscale_label_ratio(label, 2, 0.0, 19).item() == 255
    label = torch.full((1, 1, 4, 4), 255)
    out = downscale_label_ratio(label, 2, 0.75, 19)
    assert out.shape == (1, 1, 2, 2) and (out == 255).all()


def test_partial_blocks_dropped_and_input_untouched():
    label = blocky_labels(0, h=3, w=3, s=3)[:, :, :8, :7]
    before = label.clone()
    out = downscale_label_ratio(label, 2, 0.75, 19)
    assert out.shape == (2, 1, 4, 3)
    assert torch.equal(out, ref_downscale_label_ratio(label, 2, 0.75, 19))
    assert torch.equal(label, before)


@pytest.mark.parametrize('kwargs, match', [
    (dict(label=torch.zeros(1, 4, 4, dtype=torch.long)), 'shape'),
    (dict(scale_factor=1), 'scale_factor'),
    (dict(label=torch.full((1, 1, 4, 4), 19)), r'\[0, 19\)'),
])
def test_bad_input(kwargs, match):
    args = dict(label=torch.zeros(1, 1, 4, 4, dtype=torch.long),
                scale_factor=2, min_ratio=0.75, num_classes=19)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        downscale_label_ratio(**args)
