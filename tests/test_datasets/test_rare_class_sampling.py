"""Rare class sampling against DAFormer's (re-stated in tests/reference)."""
import inspect
import json
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

from mmseg_uda.datasets import (ClassStatsError, RareClassIndex,
                                RareClassSampling, SourceTargetDataset,
                                rcs_class_probs, write_class_stats)
from tests.reference.daformer_rcs import (DAFORMER_CONFIG_TEXT,
                                          ref_rare_class_crop,
                                          ref_rcs_class_probs,
                                          ref_samples_with_class)

CLASSES = tuple(f'c{i}' for i in range(19))


def _stats(num=6, seed=0):
    """Hand-made per-image stats: skewed class sizes, some ties."""
    rng = np.random.default_rng(seed)
    stats = []
    for i in range(num):
        entry = {}
        for c in rng.permutation(19)[:rng.integers(3, 12)]:
            entry[int(c)] = int(rng.integers(1, 10**6) * (c + 1))
        entry = dict(sorted(entry.items()))
        entry['file'] = f'data/gta/labels/{i:05d}_labelTrainIds.png'
        stats.append(entry)
    return stats


class FakeSource:
    """A labelled source: each item is a random ``crop`` x ``crop`` crop of
    one fixed label map (np.random, as mmseg's RandomCrop)."""

    def __init__(self, root, labels, crop=8):
        self.data_root = root
        self.metainfo = dict(classes=CLASSES)
        self.labels = labels
        self.crop = crop
        self.loads = 0

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, i):
        return dict(seg_map_path=osp.join(self.data_root, 'labels',
                                          f'{i:05d}_labelTrainIds.png'))

    def __getitem__(self, i):
        self.loads += 1
        label = self.labels[i]
        y = np.random.randint(0, label.shape[0] - self.crop + 1)
        x = np.random.randint(0, label.shape[1] - self.crop + 1)
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(
            label[None, y:y + self.crop, x:x + self.crop].copy()))
        return dict(inputs=torch.zeros(3, 1, 1), data_samples=sample)


class FakeTarget:
    metainfo = dict(classes=CLASSES)

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return dict(inputs=torch.full((1, ), float(i)))


def _source_with_stats(tmp_path, stats):
    root = str(tmp_path)
    write_class_stats(root, stats)
    labels = [np.zeros((4, 4), np.uint8)] * len(stats)
    return FakeSource(root, labels)


def test_probabilities_equal_daformer(tmp_path):
    stats = _stats()
    # a tie of two class totals keeps the order of first appearance
    stats.append({3: 7, 4: 7, 'file': 'x/00006_labelTrainIds.png'})
    stats.append({4: 0, 3: 0, 'file': 'x/00007_labelTrainIds.png'})
    loaded = json.loads(json.dumps(stats))  # string keys, as from the file
    for temp in (0.01, 0.1, 1.0):
        ref_classes, ref_probs = ref_rcs_class_probs(loaded, temp)
        classes, probs = rcs_class_probs(stats, temp)
        assert classes == ref_classes
        assert probs.dtype == ref_probs.dtype == np.float32
        np.testing.assert_allclose(probs, ref_probs, rtol=1e-6, atol=0)
    # the rarest class is drawn most often
    assert probs[0] == probs.max()
    # and through the files and the sampler object
    rcs = RareClassSampling(_source_with_stats(tmp_path, stats[:6]),
                            min_pixels=0)
    ref_classes, ref_probs = ref_rcs_class_probs(loaded[:6], 0.01)
    assert rcs.classes == ref_classes
    np.testing.assert_allclose(rcs.probs, ref_probs, rtol=1e-6, atol=0)


def test_image_lists_equal_daformer_strict_min_pixels(tmp_path):
    stats = _stats()
    # exactly min_pixels is not enough (strict >), one more is
    stats[0][2], stats[1][2] = 3000, 3001
    rcs = RareClassSampling(_source_with_stats(tmp_path, stats),
                            min_pixels=3000)
    with open(osp.join(str(tmp_path), 'samples_with_class.json')) as f:
        ref = ref_samples_with_class(json.load(f), rcs.classes, 3000)
    assert set(rcs.samples_with_class) == set(ref)
    for c, names in ref.items():
        assert rcs.samples_with_class[c] == [int(n[:5]) for n in names], c
    assert 0 not in rcs.samples_with_class[2]
    assert 1 in rcs.samples_with_class[2]


def test_draws_follow_the_probabilities(tmp_path):
    stats = [{0: 10**6, 1: 10**5, 'file': 'a/00000_labelTrainIds.png'},
             {1: 10**5, 2: 5000, 'file': 'a/00001_labelTrainIds.png'},
             {2: 4000, 'file': 'a/00002_labelTrainIds.png'}]
    rcs = RareClassSampling(_source_with_stats(tmp_path, stats),
                            class_temp=0.5, min_pixels=3000)
    gen = torch.Generator().manual_seed(0)
    n = 20000
    draws = [rcs.draw(gen) for _ in range(n)]
    freq = np.array([sum(c == k for c, _ in draws) / n for k in rcs.classes])
    # binomial standard error <= 0.0036 at n = 20000: 5 sigma
    np.testing.assert_allclose(freq, rcs.probs, atol=0.018)
    # class 2 draws both images holding > 3000 pixels of it, evenly
    images = [s for c, s in draws if c == 2]
    assert set(images) == {1, 2}
    assert abs(images.count(1) / len(images) - 0.5) < 0.05
    # every drawn image holds the class
    assert all(c in stats[s] for c, s in draws)
    # same generator seed, same draws
    gen = torch.Generator().manual_seed(0)
    assert [rcs.draw(gen) for _ in range(50)] == draws[:50]


def test_crop_rule_keeps_the_class(tmp_path):
    # class 5 fills one 6x6 corner of a 16x16 label: 17 of the 81 8x8
    # crops hold more than 10 pixels of it
    label = np.zeros((16, 16), np.uint8)
    label[:6, :6] = 5
    stats = [{0: 256 - 36, 5: 36, 'file': 'l/00000_labelTrainIds.png'}]
    root = str(tmp_path)
    write_class_stats(root, stats)
    source = FakeSource(root, [label])
    rcs_cfg = dict(min_pixels=20, min_crop_ratio=0.5)
    dataset = SourceTargetDataset(source, FakeTarget(),
                                  rare_class_sampling=rcs_cfg)
    np.random.seed(0)
    kept = loads = 0
    for _ in range(50):
        source.loads = 0
        out = dataset[RareClassIndex(source=0, target=1, cls=5)]
        assert out['target']['inputs'].item() == 1.0
        n = int((out['source']['data_samples'].gt_sem_seg.data == 5).sum())
        kept += n > 10
        loads += source.loads
    # without the rule 21% of crops keep > 10 pixels (about 10 of 50),
    # with 10 re-crops 1 - (64 / 81) ** 11 = 92.5% (about 46)
    assert kept >= 40
    assert loads > 50  # re-crops happened
    # the same loop as the original, on the same crops
    for seed in range(20):
        np.random.seed(seed)
        source.loads = 0
        ours = dataset[RareClassIndex(0, 0, 5)]['source']
        ours_loads = source.loads
        np.random.seed(seed)
        ref, ref_loads = ref_rare_class_crop(
            lambda: source[0]['data_samples'].gt_sem_seg.data, 5, 20, 0.5)
        assert ours_loads == ref_loads <= 11
        assert torch.equal(ours['data_samples'].gt_sem_seg.data, ref)


def test_plain_indices_still_plain_pairs(tmp_path):
    label = np.zeros((8, 8), np.uint8)
    stats = [{0: 64, 'file': 'l/00000_labelTrainIds.png'}]
    write_class_stats(str(tmp_path), stats)
    dataset = SourceTargetDataset(
        FakeSource(str(tmp_path), [label]), FakeTarget(),
        rare_class_sampling=dict(min_pixels=10))
    with pytest.warns(UserWarning, match='only SourceTargetSampler draws'):
        assert dataset[2]['target']['inputs'].item() == 2.0


def test_defaults_are_daformer_config_values():
    # lhoyer/MIC seg/configs/daformer/
    # gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py
    values = {k: float(v) for k, v in re.findall(
        r'(\w+)=([\d.]+)', DAFORMER_CONFIG_TEXT)}
    assert values == dict(min_pixels=3000, class_temp=0.01,
                          min_crop_ratio=0.5)
    params = inspect.signature(RareClassSampling).parameters
    for key, value in values.items():
        assert params[key].default == value, key


def test_missing_statistics_name_the_path_and_command(tmp_path):
    source = FakeSource(str(tmp_path), [np.zeros((4, 4), np.uint8)])
    with pytest.raises(ClassStatsError) as err:
        SourceTargetDataset(source, FakeTarget(),
                            rare_class_sampling=dict())
    msg = str(err.value)
    assert osp.join(str(tmp_path), 'sample_class_stats.json') in msg
    assert 'tools/dataset_converters/class_stats.py' in msg


def test_stats_dir_option(tmp_path):
    stats_dir = osp.join(str(tmp_path), 'stats')
    write_class_stats(stats_dir,
                      [{1: 5000, 'file': '00000_labelTrainIds.png'}])
    source = FakeSource(osp.join(str(tmp_path), 'root'),
                        [np.zeros((4, 4), np.uint8)])
    rcs = RareClassSampling(source, stats_dir=stats_dir)
    assert rcs.classes == [1] and rcs.samples_with_class == {1: [0]}


def test_statistics_of_another_dataset(tmp_path):
    stats = _stats(4)
    stats += [{1: 9000, 'file': f'other/{n}_labelTrainIds.png'}
              for n in ('aachen', 'bremen')]
    with pytest.raises(ClassStatsError,
                       match=r"names 2 label file.*'other/aachen_label"):
        RareClassSampling(_source_with_stats(tmp_path, stats))


def test_class_outside_the_dataset(tmp_path):
    stats = [{0: 5000, 'file': 'a/00000_labelTrainIds.png'},
             {33: 5000, 'file': 'a/00001_labelTrainIds.png'}]
    with pytest.raises(ClassStatsError,
                       match=r'sample_class_stats.json.*class id 33'):
        RareClassSampling(_source_with_stats(tmp_path, stats))


def test_class_without_an_image_above_min_pixels(tmp_path):
    stats = [{0: 5000, 7: 3000, 'file': 'a/00000_labelTrainIds.png'}]
    with pytest.raises(ValueError, match=r'min_pixels=3000.*class 7'):
        RareClassSampling(_source_with_stats(tmp_path, stats))


def test_malformed_files_are_named(tmp_path):
    source = _source_with_stats(tmp_path, _stats(2))
    path = osp.join(str(tmp_path), 'samples_with_class.json')
    with open(path, 'w') as f:
        f.write('{"1": [["a", 5]')
    with pytest.raises(ClassStatsError, match='samples_with_class.json'):
        RareClassSampling(source)
    with open(path, 'w') as f:
        json.dump({'1': [['00000_labelTrainIds.png', -4]]}, f)
    with pytest.raises(ClassStatsError, match='pixel count'):
        RareClassSampling(source)


def test_duplicate_label_basenames(tmp_path):
    source = _source_with_stats(tmp_path, _stats(2))
    source.get_data_info = lambda i: dict(
        seg_map_path=f'city{i}/00000_labelTrainIds.png')
    with pytest.raises(ValueError, match="several labels named '00000_"):
        RareClassSampling(source)


def test_a_class_subset_maps_the_statistics_as_the_labels(tmp_path):
    """A source given a subset of the classes (mmseg's label_map, the demo's
    7 of 19) trains on the new ids: the statistics, counted on the files'
    trainIds, are translated the same way, dropped classes left out."""
    stats = [{0: 500, 8: 300, 13: 40, 'file': 'l/00000_labelTrainIds.png'},
             {0: 200, 13: 90, 2: 70, 'file': 'l/00001_labelTrainIds.png'}]
    source = _source_with_stats(tmp_path, stats)
    # keep road (0), vegetation (8), car (13) as 0, 1, 2; the rest -> 255
    label_map = {i: 255 for i in range(19)}
    label_map.update({0: 0, 8: 1, 13: 2})
    source.metainfo = dict(classes=('road', 'vegetation', 'car'),
                           label_map=label_map)
    rcs = RareClassSampling(source, min_pixels=10)
    translated = [{0: 500, 1: 300, 2: 40, 'file': stats[0]['file']},
                  {0: 200, 2: 90, 'file': stats[1]['file']}]
    ref_classes, ref_probs = ref_rcs_class_probs(
        json.loads(json.dumps(translated)), 0.01)
    assert rcs.classes == ref_classes == [2, 1, 0]  # rarest first
    np.testing.assert_allclose(rcs.probs, ref_probs, rtol=1e-6, atol=0)
    assert rcs.samples_with_class == {0: [0, 1], 1: [0], 2: [0, 1]}
    # without the label map, id 13 is no class of a 3-class dataset
    source.metainfo = dict(classes=('road', 'vegetation', 'car'))
    with pytest.raises(ClassStatsError, match='class id 8'):
        RareClassSampling(source, min_pixels=10)
