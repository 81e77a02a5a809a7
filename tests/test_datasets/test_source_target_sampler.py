"""Tests of :class:`mmseg_uda.datasets.samplers.SourceTargetSampler`."""
import itertools

import pytest
from mmengine.dataset import InfiniteSampler
from mmengine.registry import init_default_scope
from mmseg.registry import DATA_SAMPLERS

import mmseg_uda.datasets.samplers.source_target_sampler as sampler_module
from mmseg_uda.datasets.samplers.source_target_sampler import \
    SourceTargetSampler
from mmseg_uda.datasets.source_target_dataset import SourceTargetDataset


def _paired(num_source, num_target):
    # ranges are sized and indexable: enough for the virtual pairing
    return SourceTargetDataset(range(num_source), range(num_target))


def _draw(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def _split(sampler, n):
    """First ``n`` (source, target) index pairs of the sampler."""
    return [divmod(i, sampler.num_target) for i in _draw(sampler, n)]


def _epochs(stream, size):
    return [stream[i:i + size] for i in range(0, len(stream), size)]


def test_each_domain_covered_once_per_its_epoch():
    sampler = SourceTargetSampler(_paired(5, 3), seed=3)
    pairs = _split(sampler, 5 * 3 * 4)
    sources = [s for s, _ in pairs]
    targets = [t for _, t in pairs]
    source_epochs = _epochs(sources, 5)
    target_epochs = _epochs(targets, 3)
    assert all(sorted(e) == list(range(5)) for e in source_epochs)
    assert all(sorted(e) == list(range(3)) for e in target_epochs)
    # reshuffled every epoch, not one order repeated
    assert len({tuple(e) for e in source_epochs}) > 1
    assert len({tuple(e) for e in target_epochs}) > 1


def test_orders_are_independent():
    for seed in range(4):
        sampler = SourceTargetSampler(_paired(6, 6), seed=seed)
        pairs = _split(sampler, 6 * 4)
        sources = [s for s, _ in pairs]
        targets = [t for _, t in pairs]
        # same sizes, yet not the same permutation stream
        assert sources != targets
        # the partner of a source index changes between source epochs
        partners = [dict(e) for e in _epochs(pairs, 6)]
        assert any(p != partners[0] for p in partners[1:])


def test_source_stream_matches_infinite_sampler():
    seed = 11
    sampler = SourceTargetSampler(_paired(7, 4), seed=seed)
    reference = InfiniteSampler(range(7), shuffle=True, seed=seed)
    assert [s for s, _ in _split(sampler, 30)] == _draw(reference, 30)


def test_no_shuffle_cycles_in_order():
    sampler = SourceTargetSampler(_paired(3, 2), shuffle=False, seed=0)
    pairs = _split(sampler, 7)
    assert [s for s, _ in pairs] == [0, 1, 2, 0, 1, 2, 0]
    assert [t for _, t in pairs] == [0, 1, 0, 1, 0, 1, 0]


def test_deterministic_given_seed_and_resumable():
    ds = _paired(5, 3)
    first = _draw(SourceTargetSampler(ds, seed=5), 40)
    assert first == _draw(SourceTargetSampler(ds, seed=5), 40)
    assert first != _draw(SourceTargetSampler(ds, seed=6), 40)
    assert all(0 <= i < len(ds) for i in first)
    # set_epoch changes nothing
    sampler = SourceTargetSampler(ds, seed=5)
    sampler.set_epoch(3)
    # iterating again continues the stream (as mmengine's InfiniteSampler),
    # so skipping the first draws of a fresh sampler reproduces a resume
    assert _draw(sampler, 17) + _draw(sampler, 23) == first


def test_seed_none_is_synchronised(monkeypatch):
    monkeypatch.setattr(sampler_module, 'sync_random_seed', lambda: 1234)
    ds = _paired(4, 3)
    sampler = SourceTargetSampler(ds)
    assert sampler.seed == 1234
    assert _draw(sampler, 20) == _draw(SourceTargetSampler(ds, seed=1234), 20)


@pytest.mark.parametrize('world_size', [2, 3])
def test_ranks_take_interleaved_slices(monkeypatch, world_size):
    ds = _paired(5, 3)
    n = 12
    full = _draw(SourceTargetSampler(ds, seed=9), n * world_size)
    streams = []
    for rank in range(world_size):
        monkeypatch.setattr(sampler_module, 'get_dist_info',
                            lambda r=rank: (r, world_size))
        sampler = SourceTargetSampler(ds, seed=9)
        assert (sampler.rank, sampler.world_size) == (rank, world_size)
        streams.append(_draw(sampler, n))
    for rank, stream in enumerate(streams):
        assert stream == full[rank::world_size]
    # together the ranks consume the single-process stream exactly once
    interleaved = [i for step in zip(*streams) for i in step]
    assert interleaved == full
    # within one source epoch of the global stream the ranks see
    # different source images
    ranks_sources = [{i // 3 for i in s[:5 // world_size]} for s in streams]
    assert not set.intersection(*ranks_sources)


def test_memory_independent_of_pair_count():
    big = 10**6
    ds = _paired(big, big)
    assert len(ds) == big * big
    sampler = SourceTargetSampler(ds, seed=0)
    assert len(sampler) == big
    drawn = _draw(sampler, 8)
    assert all(0 <= i < big * big for i in drawn)
    assert len({i // big for i in drawn}) == 8


def test_len_and_errors():
    assert len(SourceTargetSampler(_paired(5, 3), seed=0)) == 5
    assert len(SourceTargetSampler(_paired(2, 7), seed=0)) == 7
    with pytest.raises(TypeError, match='SourceTargetDataset'):
        SourceTargetSampler(range(4), seed=0)
    with pytest.raises(ValueError, match='0 target'):
        SourceTargetSampler(_paired(3, 0), seed=0)


def test_registered():
    init_default_scope('mmseg')
    sampler = DATA_SAMPLERS.build(
        dict(type='SourceTargetSampler', shuffle=False),
        default_args=dict(dataset=_paired(2, 2), seed=1))
    assert isinstance(sampler, SourceTargetSampler)
    assert _draw(sampler, 4) == [0, 3, 0, 3]
