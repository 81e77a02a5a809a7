"""Tests of :class:`mmseg_uda.datasets.SourceTargetDataset`."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample
from torch.utils.data import DataLoader

from mmseg_uda.datasets.samplers.source_target_sampler import \
    SourceTargetSampler
from mmseg_uda.datasets.source_target_dataset import SourceTargetDataset
from mmseg_uda.models.data_preprocessors.uda_data_preprocessor import \
    UDASegDataPreProcessor
from tests.reference.tiny_layouts import make_cityscapes, make_gta

SOURCE_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
TARGET_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 16), keep_ratio=False),
    dict(type='PackSegInputs'),
]
CONFIG = 'configs/_base_/datasets/gta2cityscapes.py'


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmseg')


@pytest.fixture
def roots(tmp_path):
    gta, cs = str(tmp_path / 'gta'), str(tmp_path / 'cityscapes')
    make_gta(gta, num=3, size=(12, 20), seed=0)
    make_cityscapes(cs, split='train', num=2, size=(20, 40), seed=1)
    return gta, cs


def _path(dataset, idx):
    return dataset.get_data_info(idx)['img_path']


def _source_cfg(root, **kwargs):
    return dict(type='GTAVDataset', data_root=root, pipeline=SOURCE_PIPELINE,
                **kwargs)


def _target_cfg(root, **kwargs):
    return dict(type='CityscapesDataset', data_root=root,
                data_prefix=dict(img_path='leftImg8bit/train'),
                pipeline=TARGET_PIPELINE, **kwargs)


def test_pairs_index_product(roots):
    gta, cs = roots
    ds = SourceTargetDataset(_source_cfg(gta), _target_cfg(cs))
    assert len(ds) == 3 * 2 == len(ds.source) * len(ds.target)
    for idx in range(len(ds)):
        item = ds[idx]
        s, t = divmod(idx, 2)
        assert set(item) == {'source', 'target'}
        src, tgt = item['source'], item['target']
        assert src['data_samples'].img_path == _path(ds.source, s)
        assert tgt['data_samples'].img_path == _path(ds.target, t)
        assert torch.equal(src['inputs'], ds.source[s]['inputs'])
        assert 'gt_sem_seg' in src['data_samples']
        assert 'gt_sem_seg' not in tgt['data_samples']
        assert tgt['inputs'].shape == (3, 16, 32)
        assert ds.get_data_info(idx)['target']['img_path'] == \
            tgt['data_samples'].img_path
    assert ds[-1]['source']['data_samples'].img_path == \
        _path(ds.source, 2)
    for bad in (len(ds), -len(ds) - 1):
        with pytest.raises(IndexError, match='3 source x 2 target'):
            ds[bad]


def test_accepts_built_datasets_and_registry(roots):
    gta, cs = roots
    source = DATASETS.build(_source_cfg(gta))
    target = DATASETS.build(_target_cfg(cs))
    ds = SourceTargetDataset(source, target)
    assert ds.source is source and ds.target is target
    built = DATASETS.build(
        dict(type='SourceTargetDataset', source=_source_cfg(gta),
             target=target))
    assert isinstance(built, SourceTargetDataset) and len(built) == 6
    with pytest.raises(TypeError, match='`target`'):
        SourceTargetDataset(source, 42)


def test_metainfo_is_a_copy_of_the_source(roots):
    gta, cs = roots
    ds = SourceTargetDataset(_source_cfg(gta), _target_cfg(cs))
    assert ds.metainfo == ds.source.metainfo
    assert ds.metainfo['classes'] == CityscapesDataset.METAINFO['classes']
    ds.metainfo['classes'] = ('changed', )
    assert ds.metainfo['classes'] == ds.source.metainfo['classes']


def test_refuses_different_classes(roots, tmp_path):
    gta, cs = roots
    target = dict(
        type='BaseSegDataset', data_root=cs,
        data_prefix=dict(img_path='leftImg8bit/train'),
        img_suffix='_leftImg8bit.png',
        metainfo=dict(classes=CityscapesDataset.METAINFO['classes'][:18] +
                      ('bike', )),
        pipeline=TARGET_PIPELINE)
    with pytest.raises(ValueError) as err:
        SourceTargetDataset(_source_cfg(gta), target)
    msg = str(err.value)
    for part in ('GTAVDataset', gta, 'BaseSegDataset', cs,
                 "class 18: source 'bicycle' != target 'bike'"):
        assert part in msg
    assert 'class 0' not in msg  # only differing classes are listed
    # A built dataset is checked as well, including the number of classes.
    fewer = BaseSegDataset(
        data_root=cs, data_prefix=dict(img_path='leftImg8bit/train'),
        metainfo=dict(classes=('road', 'sidewalk')), lazy_init=True)
    with pytest.raises(ValueError, match='19 classes, target has 2'):
        SourceTargetDataset(_source_cfg(gta), fewer)


def test_lazy_init(roots):
    gta, cs = roots
    ds = SourceTargetDataset(
        _source_cfg(gta, lazy_init=True), _target_cfg(cs, lazy_init=True),
        lazy_init=True)
    assert not ds.source._fully_initialized
    assert not ds.target._fully_initialized
    assert ds.metainfo['classes'] == CityscapesDataset.METAINFO['classes']
    eager = SourceTargetDataset(
        _source_cfg(gta, lazy_init=True), _target_cfg(cs, lazy_init=True))
    assert eager.source._fully_initialized and eager.target._fully_initialized
    assert len(ds) == 6
    assert ds.source._fully_initialized and ds.target._fully_initialized


def test_pseudo_collate_through_dataloader(roots):
    gta, cs = roots
    ds = SourceTargetDataset(_source_cfg(gta), _target_cfg(cs))
    order = [5, 0, 3, 2]
    loader = DataLoader(ds, batch_size=2, sampler=order,
                        collate_fn=pseudo_collate)
    batches = list(loader)
    assert len(batches) == 2
    for b, batch in enumerate(batches):
        assert set(batch) == {'source', 'target'}
        for domain in ('source', 'target'):
            assert set(batch[domain]) == {'inputs', 'data_samples'}
            assert len(batch[domain]['inputs']) == 2
            assert all(isinstance(x, torch.Tensor)
                       for x in batch[domain]['inputs'])
            assert all(isinstance(x, SegDataSample)
                       for x in batch[domain]['data_samples'])
        for i, idx in enumerate(order[2 * b:2 * b + 2]):
            s, t = divmod(idx, 2)
            assert batch['source']['data_samples'][i].img_path == \
                _path(ds.source, s)
            assert batch['target']['data_samples'][i].img_path == \
                _path(ds.target, t)


def _paired_dataloader_cfg(repo_root, gta, cs):
    """The documented ``train_dataloader`` on tiny data."""
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    source = copy.deepcopy(cfg.source_train_dataset.to_dict())
    target = copy.deepcopy(cfg.target_train_dataset.to_dict())
    source['data_root'], target['data_root'] = gta, cs
    for step in source['pipeline']:
        if step['type'] == 'Resize':
            step['scale'] = (40, 24)
    target['pipeline'] = TARGET_PIPELINE
    return dict(
        batch_size=2,
        num_workers=2,
        persistent_workers=True,
        sampler=dict(type='SourceTargetSampler', shuffle=True),
        dataset=dict(type='SourceTargetDataset', source=source,
                     target=target))


def test_train_dataloader_end_to_end(roots, repo_root):
    gta, cs = roots
    loader = Runner.build_dataloader(
        _paired_dataloader_cfg(repo_root, gta, cs), seed=7)
    assert isinstance(loader.dataset, SourceTargetDataset)
    assert isinstance(loader.sampler, SourceTargetSampler)
    assert loader.sampler.seed == 7
    preprocessor = UDASegDataPreProcessor(
        mean=[104.00698793, 116.66876762, 122.67891434], std=[1., 1., 1.],
        size_divisor=8)
    expected = iter(SourceTargetSampler(loader.dataset, seed=7))
    source_seen, target_seen = set(), set()
    for _, batch in zip(range(4), loader):
        out = preprocessor(batch, training=True)
        src, tgt = out['source'], out['target']
        assert src['inputs'].shape == (2, 3, 24, 40)
        assert tgt['inputs'].shape == (2, 3, 16, 32)
        for i in range(2):
            s, t = divmod(next(expected), 2)
            sample = src['data_samples'][i]
            assert sample.img_path == _path(loader.dataset.source, s)
            assert sample.gt_sem_seg.data.shape == (1, 24, 40)
            assert sample.gt_sem_seg.data.dtype == torch.int64
            target = tgt['data_samples'][i]
            assert target.img_path == _path(loader.dataset.target, t)
            assert osp.join('leftImg8bit', 'train') in target.img_path
            assert 'gt_sem_seg' not in target
            source_seen.add(s)
            target_seen.add(t)
    assert source_seen == {0, 1, 2} and target_seen == {0, 1}
