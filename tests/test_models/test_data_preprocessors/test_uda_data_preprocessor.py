"""Tests of :class:`UDASegDataPreProcessor` on real pipeline outputs."""
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.models import SegDataPreProcessor
from mmseg.registry import DATASETS, MODELS

from mmseg_uda.datasets.source_target_dataset import SourceTargetDataset
from mmseg_uda.models.data_preprocessors.uda_data_preprocessor import \
    UDASegDataPreProcessor
from tests.reference.tiny_layouts import make_cityscapes, make_gta

MEAN = [104.0, 116.7, 122.7]
STD = [2.0, 3.0, 4.0]
SRC_SHAPE, TGT_SHAPE = (12, 20), (14, 18)  # (h, w), neither divisible by 8


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    init_default_scope('mmseg')
    root = tmp_path_factory.mktemp('data')
    gta, cs = str(root / 'gta'), str(root / 'cityscapes')
    make_gta(gta, num=2, size=SRC_SHAPE, seed=0)
    make_cityscapes(cs, split='train', num=2, size=(28, 36), seed=1)
    source = dict(
        type='GTAVDataset', data_root=gta,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')])
    target = dict(
        type='CityscapesDataset', data_root=cs,
        data_prefix=dict(img_path='leftImg8bit/train'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='Resize', scale=TGT_SHAPE[::-1],
                       keep_ratio=False),
                  dict(type='PackSegInputs')])
    return SourceTargetDataset(DATASETS.build(source), DATASETS.build(target))


def _batch(dataset, indices=(0, 3)):
    """A fresh collated paired batch (preprocessing mutates samples)."""
    return pseudo_collate([dataset[i] for i in indices])


def _domain_batch(dataset, domain, indices=(0, 3)):
    return _batch(dataset, indices)[domain]


CFGS = [
    dict(mean=MEAN, std=STD, bgr_to_rgb=True, size_divisor=8, pad_val=7,
         seg_pad_val=200),
    dict(mean=MEAN, std=STD, size=(16, 24)),
    dict(size_divisor=1),
]


@pytest.mark.parametrize('cfg', CFGS)
@pytest.mark.parametrize('training', [True, False])
def test_paired_equals_stock_per_domain(dataset, cfg, training):
    if not training and 'size' not in cfg and 'size_divisor' in cfg:
        cfg = dict(cfg, test_cfg=dict(size_divisor=cfg['size_divisor']))
    ours = UDASegDataPreProcessor(**cfg)
    stock = SegDataPreProcessor(**cfg)
    out = ours(_batch(dataset), training)
    assert set(out) == {'source', 'target'}
    for domain in ('source', 'target'):
        ref = stock(_domain_batch(dataset, domain), training)
        assert torch.equal(out[domain]['inputs'], ref['inputs'])
        for got, exp in zip(out[domain]['data_samples'],
                            ref['data_samples']):
            assert got.metainfo == exp.metainfo
            assert ('gt_sem_seg' in got) == ('gt_sem_seg' in exp)
            if 'gt_sem_seg' in exp:
                assert torch.equal(got.gt_sem_seg.data, exp.gt_sem_seg.data)


def test_normalise_convert_and_pad_by_hand(dataset):
    ours = UDASegDataPreProcessor(**CFGS[0])
    raw = _batch(dataset)
    out = ours(_batch(dataset), training=True)
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    for domain, (h, w) in (('source', SRC_SHAPE), ('target', TGT_SHAPE)):
        inputs = out[domain]['inputs']
        padded = (-(-h // 8) * 8, -(-w // 8) * 8)
        assert inputs.shape == (2, 3, *padded)
        for i, img in enumerate(raw[domain]['inputs']):
            expected = (img[[2, 1, 0]].float() - mean) / std
            assert torch.allclose(inputs[i, :, :h, :w], expected)
            assert (inputs[i, :, h:, :] == 7).all()
            assert (inputs[i, :, :, w:] == 7).all()
            sample = out[domain]['data_samples'][i]
            assert tuple(sample.img_shape) == (h, w)
            pad = (0, padded[1] - w, 0, padded[0] - h)
            assert tuple(int(p) for p in sample.padding_size) == pad
            # mmseg records pad_shape from the label maps only
            labelled = domain == 'source'
            assert sample.pad_shape == (padded if labelled else None)
    for i, sample in enumerate(out['source']['data_samples']):
        gt = sample.gt_sem_seg.data
        assert gt.shape == (1, 16, 24)
        raw_gt = raw['source']['data_samples'][i].gt_sem_seg.data
        assert torch.equal(gt[:, :12, :20], raw_gt)
        assert (gt[:, 12:] == 200).all() and (gt[:, :, 20:] == 200).all()
    # target training images carry no labels, none are invented
    assert all('gt_sem_seg' not in s for s in out['target']['data_samples'])


@pytest.mark.parametrize('training', [True, False])
def test_plain_batch_like_stock(dataset, training):
    cfg = dict(mean=MEAN, std=STD, bgr_to_rgb=True, size_divisor=4)
    ours = UDASegDataPreProcessor(**cfg)(
        _domain_batch(dataset, 'source'), training)
    ref = SegDataPreProcessor(**cfg)(
        _domain_batch(dataset, 'source'), training)
    assert set(ours) == {'inputs', 'data_samples'}
    assert torch.equal(ours['inputs'], ref['inputs'])
    assert [s.metainfo for s in ours['data_samples']] == \
        [s.metainfo for s in ref['data_samples']]


def test_rejects_extra_keys(dataset):
    batch = _batch(dataset)
    batch['extra'] = batch['target']
    with pytest.raises(ValueError, match='extra'):
        UDASegDataPreProcessor()(batch, True)


def test_registered_and_is_paired():
    init_default_scope('mmseg')
    pre = MODELS.build(dict(type='UDASegDataPreProcessor', mean=MEAN,
                            std=STD))
    assert isinstance(pre, UDASegDataPreProcessor)
    assert isinstance(pre, SegDataPreProcessor)
    assert pre.is_paired(dict(source={}, target={}))
    assert not pre.is_paired(dict(inputs=[], data_samples=[]))
    assert not pre.is_paired([dict(source={}, target={})])
