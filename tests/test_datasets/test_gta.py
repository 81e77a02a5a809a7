"""Tests of :class:`mmseg_uda.datasets.GTAVDataset`."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

from mmseg_uda.datasets import GTAVDataset

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


def make_gta(root, names=('00001', '00002'), labelled=None, orphans=()):
    """Create ``images/`` and ``labels/`` with raw and converted labels."""
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    labelled = names if labelled is None else labelled
    for i, name in enumerate(names):
        _write_img(root / 'images' / f'{name}.png', i)
        # raw GTA label next to the converted one: must not be listed
        _write_label(root / 'labels' / f'{name}.png', 7)
    for i, name in enumerate(labelled):
        _write_label(root / 'labels' / f'{name}_labelTrainIds.png', i + 1)
    for name in orphans:
        _write_label(root / 'labels' / f'{name}_labelTrainIds.png', 0)
    return root


def test_lists_pairs(tmp_path):
    root = make_gta(tmp_path / 'gta')
    ds = GTAVDataset(data_root=str(root), pipeline=[])
    assert len(ds) == 2
    pairs = [(osp.relpath(ds[i]['img_path'], root),
              osp.relpath(ds[i]['seg_map_path'], root)) for i in range(2)]
    assert pairs == [('images/00001.png', 'labels/00001_labelTrainIds.png'),
                     ('images/00002.png', 'labels/00002_labelTrainIds.png')]
    assert ds.metainfo['classes'] == CityscapesDataset.METAINFO['classes']
    assert len(ds.metainfo['classes']) == 19


def test_registered(tmp_path):
    root = make_gta(tmp_path / 'gta')
    ds = DATASETS.build(
        dict(type='GTAVDataset', data_root=str(root), pipeline=[]))
    assert isinstance(ds, GTAVDataset)
    assert len(ds) == 2


def test_pipeline_loads_sample(tmp_path):
    init_default_scope('mmseg')
    root = make_gta(tmp_path / 'gta')
    ds = GTAVDataset(data_root=str(root), pipeline=PIPELINE)
    sample = ds[1]
    assert tuple(sample['inputs'].shape) == (3, 4, 6)
    seg = sample['data_samples'].gt_sem_seg.data.numpy()[0]
    expected = np.full((4, 6), 2, np.uint8)
    expected[0, 0] = 255
    np.testing.assert_array_equal(seg, expected)


def test_missing_root(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError, match='image directory') as err:
        GTAVDataset(data_root=str(missing), pipeline=[])
    assert str(missing / 'images') in str(err.value)


def test_missing_label_dir(tmp_path):
    root = tmp_path / 'gta'
    (root / 'images').mkdir(parents=True)
    _write_img(root / 'images' / '00001.png', 0)
    with pytest.raises(FileNotFoundError, match='label directory') as err:
        GTAVDataset(data_root=str(root), pipeline=[])
    assert str(root / 'labels') in str(err.value)


def test_image_without_label(tmp_path):
    root = make_gta(tmp_path / 'gta', names=('00001', '00002', '00003'),
                    labelled=('00001', '00003'))
    with pytest.raises(FileNotFoundError, match='label file not found') as e:
        GTAVDataset(data_root=str(root), pipeline=[])
    msg = str(e.value)
    assert str(root / 'labels' / '00002_labelTrainIds.png') in msg
    assert str(root / 'images' / '00002.png') in msg
    assert 'dataset_converters/gta.py' in msg


def test_label_for_missing_image(tmp_path):
    root = make_gta(tmp_path / 'gta', orphans=('00009',))
    with pytest.raises(FileNotFoundError,
                       match='label file for a missing image') as err:
        GTAVDataset(data_root=str(root), pipeline=[])
    msg = str(err.value)
    assert str(root / 'labels' / '00009_labelTrainIds.png') in msg
    assert str(root / 'images' / '00009.png') in msg


def test_ann_file_with_missing_image(tmp_path):
    root = make_gta(tmp_path / 'gta')
    (root / 'split.txt').write_text('00001\n00005\n')
    with pytest.raises(FileNotFoundError, match='image file not found') as e:
        GTAVDataset(data_root=str(root), ann_file='split.txt', pipeline=[])
    assert str(root / 'images' / '00005.png') in str(e.value)


def test_ann_file_subset(tmp_path):
    root = make_gta(tmp_path / 'gta')
    (root / 'split.txt').write_text('00002\n')
    ds = GTAVDataset(data_root=str(root), ann_file='split.txt', pipeline=[])
    assert len(ds) == 1
    assert ds[0]['img_path'] == osp.join(str(root), 'images', '00002.png')


def test_no_seg_map_path_skips_label_checks(tmp_path):
    root = tmp_path / 'gta'
    (root / 'images').mkdir(parents=True)
    _write_img(root / 'images' / '00001.png', 0)
    ds = GTAVDataset(
        data_root=str(root), data_prefix=dict(img_path='images'), pipeline=[])
    assert len(ds) == 1
    assert 'seg_map_path' not in ds[0]


def test_undecodable_image(tmp_path):
    init_default_scope('mmseg')
    root = make_gta(tmp_path / 'gta')
    bad = root / 'images' / '00001.png'
    bad.write_bytes(b'this is not a png')
    ds = GTAVDataset(data_root=str(root), pipeline=PIPELINE)
    with pytest.raises(RuntimeError) as err:
        ds[0]
    msg = str(err.value)
    assert str(bad) in msg
    assert str(root / 'labels' / '00001_labelTrainIds.png') in msg
    assert err.value.__cause__ is not None
