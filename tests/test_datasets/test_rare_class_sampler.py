"""SourceTargetSampler with rare class sampling on: seeds, ranks, resume."""
import itertools

import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

import mmseg_uda.datasets.samplers.source_target_sampler as sampler_module
from mmseg_uda.datasets import (RareClassIndex, SourceTargetDataset,
                                SourceTargetSampler, write_class_stats)
from tests.test_datasets.test_rare_class_sampling import (FakeSource,
                                                          FakeTarget)

STATS = [{0: 9000, 1: 4000, 'file': 'l/00000_labelTrainIds.png'},
         {0: 8000, 2: 3500, 'file': 'l/00001_labelTrainIds.png'},
         {0: 9000, 1: 5000, 2: 6000, 'file': 'l/00002_labelTrainIds.png'},
         {0: 9000, 3: 3100, 'file': 'l/00003_labelTrainIds.png'}]


@pytest.fixture
def dataset(tmp_path):
    write_class_stats(str(tmp_path), STATS)
    labels = [np.full((8, 8), i, np.uint8) for i in range(len(STATS))]
    return SourceTargetDataset(
        FakeSource(str(tmp_path), labels, crop=4), FakeTarget(),
        rare_class_sampling=dict(class_temp=1.0, min_pixels=3000,
                                 min_crop_ratio=0))


def _draw(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_yields_rare_class_draws(dataset):
    draws = _draw(SourceTargetSampler(dataset, seed=0), 300)
    assert all(isinstance(d, RareClassIndex) for d in draws)
    # each drawn image holds more than min_pixels of the drawn class
    assert all(STATS[d.source].get(d.cls, 0) > 3000 for d in draws)
    assert {d.cls for d in draws} == {0, 1, 2, 3}
    # the target side is the same permutation stream as without RCS
    plain = SourceTargetDataset(range(4), range(3))
    targets = [i % 3 for i in _draw(SourceTargetSampler(plain, seed=0), 300)]
    assert [d.target for d in draws] == targets


def test_same_seed_same_draws_other_seed_other_draws(dataset):
    a, b, c = (_draw(SourceTargetSampler(dataset, seed=s), 50)
               for s in (7, 7, 8))
    assert a == b
    assert a != c


def test_resume_equals_an_uninterrupted_stream(dataset):
    straight = _draw(SourceTargetSampler(dataset, seed=3), 40)
    first = SourceTargetSampler(dataset, seed=3)
    head = _draw(first, 15)
    # mmengine's IterBasedTrainLoop: a fresh sampler, consumed draws skipped
    fresh = iter(SourceTargetSampler(dataset, seed=3))
    for _ in range(15):
        next(fresh)
    assert head + list(itertools.islice(fresh, 25)) == straight
    # a new iteration of one sampler continues its stream
    assert head + _draw(first, 25) == straight


def test_ranks_draw_different_samples(dataset, monkeypatch):
    whole = _draw(SourceTargetSampler(dataset, seed=1), 60)
    ranks = []
    for rank in range(2):
        monkeypatch.setattr(sampler_module, 'get_dist_info',
                            lambda rank=rank: (rank, 2))
        ranks.append(_draw(SourceTargetSampler(dataset, seed=1), 30))
    assert ranks[0] == whole[0::2] and ranks[1] == whole[1::2]
    assert ranks[0] != ranks[1]


@pytest.mark.parametrize('workers', [0, 1])
def test_through_a_dataloader(dataset, workers):
    sampler = SourceTargetSampler(dataset, seed=0)
    expected = _draw(SourceTargetSampler(dataset, seed=0), 4)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler,
                        num_workers=workers, collate_fn=pseudo_collate)
    batches = list(itertools.islice(iter(loader), 2))
    sources = [s for b in batches for s in b['source']['data_samples']]
    targets = [t.item() for b in batches for t in b['target']['inputs']]
    # each label map holds its own index: the drawn image was loaded
    assert [int(s.gt_sem_seg.data[0, 0, 0]) for s in sources] == [
        d.source for d in expected]
    assert targets == [d.target for d in expected]
