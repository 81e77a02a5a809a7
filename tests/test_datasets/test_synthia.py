"""Tests of :class:`mmseg_uda.datasets.SynthiaDataset`."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

from mmseg_uda.datasets import SynthiaDataset

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def _write_img(path, seed):
    rng = np.random.default_rng(seed)
    assert cv2.imwrite(str(path), rng.integers(0, 256, (4, 6, 3), np.uint8))


def _write_label(path, value):
    label = np.full((4, 6), value, np.uint8)
    label[0, 0] = 255
    assert cv2.imwrite(str(path), label)


def make_synthia(root,
                 names=('0000001', '0000002'),
                 labelled=None,
                 orphans=()):
    """Create ``RGB/`` and ``GT/LABELS/`` with raw and converted labels."""
    (root / 'RGB').mkdir(parents=True)
    (root / 'GT' / 'LABELS').mkdir(parents=True)
    labelled = names if labelled is None else labelled
    for i, name in enumerate(names):
        _write_img(root / 'RGB' / f'{name}.png', i)
        # raw SYNTHIA label next to the converted one: must not be listed
        _write_label(root / 'GT' / 'LABELS' / f'{name}.png', 7)
    for i, name in enumerate(labelled):
        _write_label(root / 'GT' / 'LABELS' / f'{name}_labelTrainIds.png',
                     i + 1)
    for name in orphans:
        _write_label(root / 'GT' / 'LABELS' / f'{name}_labelTrainIds.png',
                     0)
    return root


def test_lists_pairs(tmp_path):
    root = make_synthia(tmp_path / 'synthia')
    ds = SynthiaDataset(data_root=str(root), pipeline=[])
    assert len(ds) == 2
    pairs = [(osp.relpath(ds[i]['img_path'], root),
              osp.relpath(ds[i]['seg_map_path'], root)) for i in range(2)]
    assert pairs == [
        ('RGB/0000001.png', 'GT/LABELS/0000001_labelTrainIds.png'),
        ('RGB/0000002.png', 'GT/LABELS/0000002_labelTrainIds.png'),
    ]
    assert ds.metainfo['classes'] == CityscapesDataset.METAINFO['classes']
    assert len(ds.metainfo['classes']) == 19


def test_registered(tmp_path):
    root = make_synthia(tmp_path / 'synthia')
    ds = DATASETS.build(
        dict(type='SynthiaDataset', data_root=str(root), pipeline=[]))
    assert isinstance(ds, SynthiaDataset)
    assert len(ds) == 2


def test_pipeline_loads_sample(tmp_path):
    init_default_scope('mmseg')
    root = make_synthia(tmp_path / 'synthia')
    ds = SynthiaDataset(data_root=str(root), pipeline=PIPELINE)
    sample = ds[1]
    assert tuple(sample['inputs'].shape) == (3, 4, 6)
    seg = sample['data_samples'].gt_sem_seg.data.numpy()[0]
    expected = np.full((4, 6), 2, np.uint8)
    expected[0, 0] = 255
    np.testing.assert_array_equal(seg, expected)


def test_missing_root(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError, match='image directory') as err:
        SynthiaDataset(data_root=str(missing), pipeline=[])
    assert str(missing / 'RGB') in str(err.value)


def test_missing_label_dir(tmp_path):
    root = tmp_path / 'synthia'
    (root / 'RGB').mkdir(parents=True)
    _write_img(root / 'RGB' / '0000001.png', 0)
    with pytest.raises(FileNotFoundError, match='label directory') as err:
        SynthiaDataset(data_root=str(root), pipeline=[])
    assert str(root / 'GT' / 'LABELS') in str(err.value)


def test_image_without_label(tmp_path):
    root = make_synthia(
        tmp_path / 'synthia',
        names=('0000001', '0000002', '0000003'),
        labelled=('0000001', '0000003'))
    with pytest.raises(FileNotFoundError, match='label file not found') as e:
        SynthiaDataset(data_root=str(root), pipeline=[])
    msg = str(e.value)
    assert str(root / 'GT' / 'LABELS' / '0000002_labelTrainIds.png') in msg
    assert str(root / 'RGB' / '0000002.png') in msg
    assert 'dataset_converters/synthia.py' in msg


def test_label_for_missing_image(tmp_path):
    root = make_synthia(tmp_path / 'synthia', orphans=('0000009',))
    with pytest.raises(FileNotFoundError,
                       match='label file for a missing image') as err:
        SynthiaDataset(data_root=str(root), pipeline=[])
    msg = str(err.value)
    assert str(root / 'GT' / 'LABELS' / '0000009_labelTrainIds.png') in msg
    assert str(root / 'RGB' / '0000009.png') in msg


def test_ann_file_with_missing_image(tmp_path):
    root = make_synthia(tmp_path / 'synthia')
    (root / 'split.txt').write_text('0000001\n0000005\n')
    with pytest.raises(FileNotFoundError, match='image file not found') as e:
        SynthiaDataset(data_root=str(root), ann_file='split.txt', pipeline=[])
    assert str(root / 'RGB' / '0000005.png') in str(e.value)


def test_ann_file_subset(tmp_path):
    root = make_synthia(tmp_path / 'synthia')
    (root / 'split.txt').write_text('0000002\n')
    ds = SynthiaDataset(data_root=str(root), ann_file='split.txt', pipeline=[])
    assert len(ds) == 1
    assert ds[0]['img_path'] == osp.join(str(root), 'RGB', '0000002.png')


def test_no_seg_map_path_skips_label_checks(tmp_path):
    root = tmp_path / 'synthia'
    (root / 'RGB').mkdir(parents=True)
    _write_img(root / 'RGB' / '0000001.png', 0)
    ds = SynthiaDataset(
        data_root=str(root), data_prefix=dict(img_path='RGB'), pipeline=[])
    assert len(ds) == 1
    assert 'seg_map_path' not in ds[0]


def test_undecodable_image(tmp_path):
    init_default_scope('mmseg')
    root = make_synthia(tmp_path / 'synthia')
    bad = root / 'RGB' / '0000001.png'
    bad.write_bytes(b'this is not a png')
    ds = SynthiaDataset(data_root=str(root), pipeline=PIPELINE)
    with pytest.raises(RuntimeError) as err:
        ds[0]
    msg = str(err.value)
    assert str(bad) in msg
    assert str(root / 'GT' / 'LABELS' / '0000001_labelTrainIds.png') in msg
    assert err.value.__cause__ is not None
