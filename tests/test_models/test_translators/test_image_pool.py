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


class _DeviceTensor(torch.Tensor):
    """Stands for a generator state that ``torch.load(map_location=...)``
    put on a GPU: ``set_state`` accepts only CPU tensors, so the pool must
    ask for a CPU copy. It records the ``.cpu()`` calls (on this CPU
    machine the data itself is already on the host)."""

    cpu_calls = 0

    def cpu(self, *args, **kwargs):
        type(self).cpu_calls += 1
        return torch.Tensor(self).clone()


def _resumed_matches(state_transform):
    images, _ = _stream(seed=0)
    straight = ImagePool(pool_size=3, seed=1, save_images=True)
    for x in images[:5]:
        straight.query(x)
    state = straight.state_dict()
    extra = dict(state['_extra_state'])
    extra['generator'] = state_transform(extra['generator'])
    state['_extra_state'] = extra
    resumed = ImagePool(pool_size=3, seed=99, save_images=True)
    resumed.load_state_dict(state)
    return all(
        torch.equal(straight.query(x), resumed.query(x)) for x in images[5:])


def test_resume_restores_the_generator_from_a_cpu_copy():
    # What a CPU machine can show of a checkpoint loaded onto a GPU: the
    # state's .cpu() is called before set_state (a CUDA tensor would be
    # refused), and the stream continues exactly.
    _DeviceTensor.cpu_calls = 0
    assert _resumed_matches(lambda s: s.as_subclass(_DeviceTensor))
    assert _DeviceTensor.cpu_calls == 1


def test_resume_accepts_a_non_contiguous_state():
    # e.g. a state sliced out of a larger buffer: set_state refuses views
    def strided(state):
        big = torch.zeros(2 * state.numel(), dtype=torch.uint8)
        big[::2] = state
        return big[::2]

    assert _resumed_matches(strided)


def test_resume_refuses_a_state_that_is_not_bytes():
    with pytest.raises(TypeError, match='ImagePool generator state.*uint8'):
        _resumed_matches(lambda s: s.long())
