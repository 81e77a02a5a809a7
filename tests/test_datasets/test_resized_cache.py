"""Tests of :class:`mmseg_uda.datasets.resized_cache.ResizedCacheDataset`."""
import copy
import importlib.util
import json
import os
import os.path as osp
import pickle

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import mmseg_uda  # noqa: F401
from mmseg_uda.datasets.resized_cache import (MANIFEST_NAME,
                                              ResizedCacheDataset)
from tests.reference.tiny_layouts import make_cityscapes, make_gta

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCALE = (64, 36)  # (w, h); the tiny frames are 95x52


def load_tool():
    path = osp.join(REPO, 'tools', 'dataset_converters', 'resize_cache.py')
    spec = importlib.util.spec_from_file_location('resize_cache_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_cfg(root, scale=SCALE, interpolation='bicubic', backend='pillow'):
    return dict(
        type='GTAVDataset',
        data_root=root,
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='Resize', scale=scale, keep_ratio=False,
                 interpolation=interpolation, backend=backend),
            dict(type='PackSegInputs'),
        ])


def target_cfg(root):
    return dict(
        type='CityscapesDataset',
        data_root=root,
        data_prefix=dict(img_path='leftImg8bit/train'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=SCALE, keep_ratio=False,
                 interpolation='bilinear', backend='cv2'),
            dict(type='PackSegInputs'),
        ])


@pytest.fixture(scope='module')
def tool():
    init_default_scope('mmseg')
    return load_tool()


@pytest.fixture
def gta(tmp_path, tool):
    root = str(tmp_path / 'gta')
    make_gta(root, num=3, size=(52, 95))
    cache = str(tmp_path / 'cache')
    tool.build_cache(source_cfg(root), cache, nproc=1)
    return root, cache


def assert_same_sample(a, b):
    assert torch.equal(a['inputs'], b['inputs'])
    sa, sb = a['data_samples'], b['data_samples']
    assert torch.equal(sa.gt_sem_seg.data, sb.gt_sem_seg.data)
    assert sa.metainfo == sb.metainfo


def test_same_size_resize_is_a_copy():
    img = np.random.default_rng(0).integers(0, 256, (36, 64, 3), np.uint8)
    for backend, modes in (('pillow', ['nearest', 'bilinear', 'bicubic']),
                           ('cv2', ['nearest', 'bilinear', 'bicubic'])):
        for mode in modes:
            out = mmcv.imresize(img, (64, 36), interpolation=mode,
                                backend=backend)
            assert np.array_equal(out, img), (backend, mode)


def test_cached_samples_identical_to_uncached(gta):
    root, cache = gta
    cfg = source_cfg(root)
    uncached = DATASETS.build(copy.deepcopy(cfg))
    cached = DATASETS.build(
        dict(type='ResizedCacheDataset', dataset=cfg, cache_dir=cache))
    assert len(cached) == len(uncached) == 3
    assert cached.metainfo['classes'] == uncached.metainfo['classes']
    for i in range(3):
        a, b = uncached[i], cached[i]
        assert a['inputs'].shape == (3, 36, 64)
        assert a['data_samples'].metainfo['ori_shape'] == (52, 95)
        assert_same_sample(a, b)
    assert cached.get_data_info(0)['img_path'] == uncached.get_data_info(
        0)['img_path']
    # The cache holds resized files and is what is read: with an original
    # image destroyed, the cached sample is unchanged.
    first = uncached.get_data_info(0)['img_path']
    assert cv2.imread(osp.join(cache, 'images', osp.basename(first))
                      ).shape == (36, 64, 3)
    expected = cached[0]
    with open(first, 'wb') as f:
        f.write(b'not a png')
    assert_same_sample(cached[0], expected)
    with pytest.raises(RuntimeError, match='00000.png'):
        uncached[0]


def test_cached_target_images_identical(tmp_path, tool):
    root = str(tmp_path / 'cs')
    make_cityscapes(root, split='train', num=2, size=(52, 95))
    cache = str(tmp_path / 'cs_cache')
    manifest = tool.build_cache(target_cfg(root), cache, nproc=1)
    assert manifest['labels'] is False and manifest['num_files'] == 2
    uncached = DATASETS.build(target_cfg(root))
    cached = ResizedCacheDataset(target_cfg(root), cache)
    for i in range(2):
        a, b = uncached[i], cached[i]
        assert torch.equal(a['inputs'], b['inputs'])
        assert a['data_samples'].metainfo == b['data_samples'].metainfo
    # Wrapped inside the UDA pair dataset, pickled as for loader workers.
    pair = DATASETS.build(
        dict(type='SourceTargetDataset', source=target_cfg(root),
             target=dict(type='ResizedCacheDataset', dataset=target_cfg(root),
                         cache_dir=cache)))
    pair = pickle.loads(pickle.dumps(pair))
    assert len(pair) == 4
    assert torch.equal(pair[1]['target']['inputs'], uncached[1]['inputs'])


def test_refuses_incomplete_cache(gta):
    root, cache = gta
    os.remove(osp.join(cache, MANIFEST_NAME))
    with pytest.raises(FileNotFoundError, match=MANIFEST_NAME) as err:
        ResizedCacheDataset(source_cfg(root), cache)
    assert cache in str(err.value)
    with pytest.raises(FileNotFoundError, match='not found'):
        ResizedCacheDataset(source_cfg(root), cache + '_missing')


@pytest.mark.parametrize('kwargs,key', [
    (dict(scale=(32, 18)), 'scale'),
    (dict(interpolation='bilinear'), 'interpolation'),
    (dict(backend='cv2'), 'backend'),
])
def test_refuses_other_resize_settings(gta, kwargs, key):
    root, cache = gta
    with pytest.raises(ValueError, match=key) as err:
        ResizedCacheDataset(source_cfg(root, **kwargs), cache)
    assert cache in str(err.value)


def test_refuses_cache_without_labels_for_labelled_pipeline(
        gta, tool, tmp_path):
    root, _ = gta
    cache = str(tmp_path / 'images_only')
    cfg = source_cfg(root)
    del cfg['pipeline'][1]  # no LoadAnnotations: images only
    tool.build_cache(cfg, cache, nproc=1)
    with pytest.raises(ValueError, match='labels'):
        ResizedCacheDataset(source_cfg(root), cache)


def test_refuses_missing_files(gta):
    root, cache = gta
    os.remove(osp.join(cache, 'labels', '00001_labelTrainIds.png'))
    with pytest.raises(FileNotFoundError,
                       match='00001_labelTrainIds.png') as err:
        ResizedCacheDataset(source_cfg(root), cache)
    assert cache in str(err.value)
    # Lazily: the check runs on first use.
    dataset = ResizedCacheDataset(source_cfg(root), cache, lazy_init=True)
    with pytest.raises(FileNotFoundError, match='lacks'):
        len(dataset)


def test_refuses_image_added_after_caching(gta):
    root, cache = gta
    cv2.imwrite(osp.join(root, 'images', '00009.png'),
                np.zeros((52, 95, 3), np.uint8))
    cv2.imwrite(osp.join(root, 'labels', '00009_labelTrainIds.png'),
                np.zeros((52, 95), np.uint8))
    with open(osp.join(cache, MANIFEST_NAME)) as f:
        assert 'images/00009.png' not in json.load(f)['sizes']
    with pytest.raises(FileNotFoundError, match='images/00009.png'):
        ResizedCacheDataset(source_cfg(root), cache)


@pytest.mark.parametrize('edit,match', [
    (lambda p: p.pop(2), 'no Resize'),
    (lambda p: p[2].update(keep_ratio=True), 'keep_ratio=False'),
    (lambda p: p.insert(1, dict(type='RandomFlip', prob=0.5)),
     'RandomFlip precedes the Resize'),
])
def test_refuses_uncacheable_pipeline(gta, edit, match):
    root, cache = gta
    cfg = source_cfg(root)
    edit(cfg['pipeline'])
    with pytest.raises(ValueError, match=match):
        ResizedCacheDataset(cfg, cache)
