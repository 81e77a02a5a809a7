"""ImagePool: CycleGAN's query rule, reproducibility, resume."""
import pytest
import torch

from mmseg_uda.models.translators import ImagePool


def _stream(seed, n=10, batch=2):
    images = torch.arange(n * batch, dtype=torch.float).view(
        n, batch, 1, 1, 1).expand(n, batch, 1, 2, 2)
    return images, ImagePool(pool_size=3, seed=seed)


def test_zero_size_returns_input():
    pool = ImagePool(pool_size=0)
    x = torch.rand(2, 3, 4, 4, requires_grad=True)
    out = pool.query(x)
    assert torch.equal(out, x) and not out.requires_grad


def test_fills_then_swaps_with_stored_images():
    images, pool = _stream(seed=0)
    seen = set()
    swapped = 0
    for i, batch in enumerate(images):
        out = pool.query(batch)
        assert out.shape == batch.shape
        values = [int(v) for v in out[:, 0, 0, 0]]
        if i == 0:
            assert values == [0, 1]  # the pool is filling: as given
        for v, new in zip(values, batch[:, 0, 0, 0].tolist()):
            # either the new image or one seen in an earlier batch
            assert v == int(new) or v in seen
            swapped += v != int(new)
        seen.update(int(v) for v in batch[:, 0, 0, 0])
        assert len(pool.images) == min(3, (i + 1) * 2)
    assert 0 < swapped < 18  # about half of the later images


def test_seeded_pools_repeat_and_resume():
    images, a = _stream(seed=5)
    _, b = _stream(seed=5)
    _, c = _stream(seed=6)
    outs = [[p.query(x) for x in images] for p in (a, b, c)]
    assert all(torch.equal(x, y) for x, y in zip(outs[0], outs[1]))
    assert not all(torch.equal(x, y) for x, y in zip(outs[0], outs[2]))

    # resume: a fresh pool given the state dict continues the same draws
    straight = ImagePool(pool_size=3, seed=1, save_images=True)
    for x in images[:5]:
        straight.query(x)
    resumed = ImagePool(pool_size=3, seed=99, save_images=True)
    resumed.load_state_dict(straight.state_dict())
    for x in images[5:]:
        assert torch.equal(straight.query(x), resumed.query(x))
    # without the images only the generator state travels
    light = ImagePool(pool_size=3, seed=1)
    state = light.state_dict()['_extra_state']
    assert set(state) == {'generator', 'num_images'}


def test_bad_size():
    with pytest.raises(ValueError, match='pool_size'):
        ImagePool(pool_size=-1)
