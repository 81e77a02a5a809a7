"""ADVENT configs: every number pinned against ADVENT's config.py."""
import os.path as osp

import pytest
from mmengine.config import Config

from .test_shipped_configs import CAFFE_BGR_MEAN, _assert_originals_poly

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = 'configs/advent/deeplabv2_r101_{}.py'


def _cfg(name):
    return Config.fromfile(osp.join(ROOT, CFG.format(name)))


def _check_common(cfg, source_type, max_iters):
    model = cfg.model
    # the UDA model takes its data preprocessor from the segmentor
    assert model.data_preprocessor is None
    seg = model.segmentor
    assert seg.data_preprocessor.mean == CAFFE_BGR_MEAN
    for head in (seg.decode_head, seg.auxiliary_head):
        assert tuple(head.dilations) == (6, 12, 18, 24)  # ADVENT's classifier
    assert seg.decode_head.loss_decode.loss_weight == 1.0
    assert seg.auxiliary_head.loss_decode.loss_weight == 0.1
    seg_opt = cfg.optim_wrapper.segmentor
    assert cfg.optim_wrapper.constructor == 'MultiOptimWrapperConstructor'
    assert seg_opt.optimizer == dict(type='SGD', lr=2.5e-4, momentum=0.9,
                                     weight_decay=5e-4)
    assert seg_opt.paramwise_cfg.custom_keys.decode_head.lr_mult == 10.0
    assert seg_opt.paramwise_cfg.custom_keys.auxiliary_head.lr_mult == 10.0
    assert seg_opt.constructor == 'OriginalsListingOptimWrapperConstructor'
    for name, schedulers in cfg.param_scheduler.items():
        (poly, ) = schedulers
        assert poly.end == 250001
        _assert_originals_poly(poly)
    assert cfg.train_cfg.max_iters == max_iters
    assert cfg.default_hooks.checkpoint.save_best == 'mIoU'
    assert cfg.default_hooks.checkpoint.rule == 'greater'
    loader = cfg.train_dataloader
    assert loader.batch_size == 1
    assert loader.sampler.type == 'SourceTargetSampler'
    assert loader.dataset.source.type == source_type
    assert loader.dataset.target.type == 'CityscapesDataset'


@pytest.mark.parametrize('name,source_type,max_iters', [
    ('advent_gta2cs', 'GTAVDataset', 120000),
    ('advent_synthia2cs', 'SynthiaDataset', 90000),
])
def test_advent(name, source_type, max_iters):
    cfg = _cfg(name)
    _check_common(cfg, source_type, max_iters)
    model = cfg.model
    assert model.type == 'AdvEntUDASegmentor'
    assert model.adv_weights == dict(main=0.001, aux=0.0002)
    assert model.gan_loss == 'vanilla'
    disc = model.discriminator
    assert (disc.type, disc.base_channels, disc.num_convs,
            disc.negative_slope) == ('FCDiscriminator', 64, 5, 0.2)
    assert cfg.optim_wrapper.discriminators.optimizer == dict(
        type='Adam', lr=1e-4, betas=(0.9, 0.99))
    assert set(cfg.param_scheduler) == {'segmentor', 'discriminators'}
    assert cfg.model_wrapper_cfg.type == 'MMSeparateDistributedDataParallel'


@pytest.mark.parametrize('name,source_type,max_iters', [
    ('minent_gta2cs', 'GTAVDataset', 120000),
    ('minent_synthia2cs', 'SynthiaDataset', 90000),
])
def test_minent(name, source_type, max_iters):
    cfg = _cfg(name)
    _check_common(cfg, source_type, max_iters)
    model = cfg.model
    assert model.type == 'MinEntUDASegmentor'
    assert model.ent_weights == dict(main=0.001, aux=0.0002)
    assert model.loss_entropy == dict(type='EntropyLoss')
    assert 'discriminator' not in model
    # only the segmentor's optimizer and schedule
    assert set(cfg.optim_wrapper) == {'constructor', 'segmentor'}
    assert set(cfg.param_scheduler) == {'segmentor'}


def test_synthia_reports_subsets():
    for name in ('advent_synthia2cs', 'minent_synthia2cs'):
        cfg = _cfg(name)
        assert cfg.val_evaluator.type == 'SubsetIoUMetric'
        scales = [s.scale for s in cfg.train_dataloader.dataset.source.pipeline
                  if s.type == 'Resize']
        assert scales == [(1280, 760)]


def test_ensemble():
    cfg = _cfg('advent_minent_ensemble_gta2cs')
    model = cfg.model
    assert model.type == 'EnsembleSegmentor'
    advent, minent = model.members
    assert advent.config == osp.join(ROOT, CFG.format('advent_gta2cs'))
    assert minent.config == osp.join(ROOT, CFG.format('minent_gta2cs'))
    assert (advent.checkpoint, minent.checkpoint) == (
        'checkpoints/advent_gta2cs.pth', 'checkpoints/minent_gta2cs.pth')
    # ADVENT's eval_single: 0.5 * logits + 0.5 * logits
    assert model.weights == [0.5, 0.5] and model.fuse == 'logits'
    assert model.data_preprocessor.mean == CAFFE_BGR_MEAN
    assert cfg.train_dataloader is None and cfg.train_cfg is None
    assert cfg.test_evaluator.type == 'IoUMetric'
