"""Every shipped number from the originals, pinned against DESIGN.md."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from mmseg_uda.datasets import SYNTHIA_13_CLASSES, SYNTHIA_16_CLASSES

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CAFFE_BGR_MEAN = [104.00698793, 116.66876762, 122.67891434]


def _cfg(rel):
    return Config.fromfile(osp.join(ROOT, rel))


def _pipeline_types(pipeline):
    return [step['type'] for step in pipeline]


@pytest.mark.parametrize(
    'path', sorted(
        osp.relpath(p, ROOT)
        for p in glob.glob(osp.join(ROOT, 'configs/**/*.py'), recursive=True)
        if '_base_' not in p))
def test_every_config_builds_its_model(path):
    cfg = _cfg(path)
    assert 'mmseg_uda' in cfg.custom_imports['imports']
    if cfg.model.type == 'EnsembleSegmentor':
        pytest.skip('loads its members\' checkpoints: built in '
                    'test_advent_configs and test_ensemble_segmentor')
    if cfg.model.type == 'CycleGANTranslator':
        pytest.skip('image translator: built in '
                    'tests/test_models/test_translators')
    seg_cfg = cfg.model.get('segmentor', cfg.model)
    seg_cfg.backbone.init_cfg = None
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    segmentor = getattr(model, 'segmentor', model)
    assert segmentor.decode_head.num_classes == \
        seg_cfg.decode_head.num_classes


def test_deeplabv2_r101_model_is_the_originals():
    model = _cfg('configs/_base_/models/deeplabv2_r101.py').model
    assert model.type == 'UDAEncoderDecoder'
    bb = model.backbone
    assert bb.type == 'DeepLabV2ResNet' and bb.depth == 101
    assert bb.strides == (1, 2, 1, 1) and bb.dilations == (1, 1, 2, 4)
    assert bb.style == 'caffe' and bb.ceil_mode is True
    assert bb.norm_cfg == dict(type='BN', requires_grad=False)
    assert bb.norm_eval is False
    main, aux = model.decode_head, model.auxiliary_head
    assert (main.in_channels, main.in_index) == (2048, 1)
    assert (aux.in_channels, aux.in_index) == (1024, 0)
    for head in (main, aux):
        assert head.type == 'DeepLabV2Head'
        assert tuple(head.dilations) == (6, 12, 18, 24)  # ADVENT / BDL
        assert head.num_classes == 19 and head.align_corners is True
        assert head.loss_decode.avg_non_ignore is True
    assert main.loss_decode.loss_weight == 1.0
    assert aux.loss_decode.loss_weight == 0.1
    pre = model.data_preprocessor
    assert pre.mean == CAFFE_BGR_MEAN and pre.std == [1.0, 1.0, 1.0]
    assert pre.bgr_to_rgb is False and pre.seg_pad_val == 255
    assert model.test_cfg == dict(mode='whole', logits_to_ori_shape=True)


@pytest.mark.parametrize('path,source_scale', [
    ('configs/_base_/datasets/gta2cityscapes.py', (1280, 720)),
    ('configs/_base_/datasets/synthia2cityscapes.py', (1280, 760)),
])
def test_dataset_sizes_and_protocol(path, source_scale):
    cfg = _cfg(path)
    src = cfg.train_dataloader.dataset
    assert cfg.train_dataloader.batch_size == 1
    resize = [s for s in src.pipeline if s.type == 'Resize']
    assert len(resize) == 1 and resize[0].scale == source_scale
    for pipeline in (src.pipeline, cfg.target_train_dataset.pipeline,
                     cfg.val_dataloader.dataset.pipeline):
        assert 'RandomFlip' not in _pipeline_types(pipeline)
        assert 'RandomCrop' not in _pipeline_types(pipeline)
        for step in pipeline:
            if step.type == 'Resize':
                assert step.keep_ratio is False
                assert step.interpolation == 'bicubic'
                assert step.backend == 'pillow'
    for ds in (cfg.target_train_dataset, cfg.val_dataloader.dataset):
        scales = [s.scale for s in ds.pipeline if s.type == 'Resize']
        assert scales == [(1024, 512)]
    # labels loaded after the resize: scored at full resolution
    types = _pipeline_types(cfg.val_dataloader.dataset.pipeline)
    assert types.index('LoadAnnotations') > types.index('Resize')
    assert cfg.val_dataloader.dataset.data_prefix.img_path == \
        'leftImg8bit/val'


def test_synthia_reports_16_and_13_classes():
    cfg = _cfg('configs/_base_/datasets/synthia2cityscapes.py')
    ev = cfg.val_evaluator
    assert ev.type == 'SubsetIoUMetric'
    assert tuple(ev.class_subsets.mIoU16) == tuple(SYNTHIA_16_CLASSES)
    assert tuple(ev.class_subsets.mIoU13) == tuple(SYNTHIA_13_CLASSES)
    assert cfg.train_dataloader.dataset.type == 'SynthiaDataset'


def _assert_originals_poly(poly_cfg):
    """The scheduler gives lr_i = lr * (1 - i / 250000) ** 0.9."""
    from mmengine.optim.scheduler import PolyLR
    assert poly_cfg.type == 'PolyLR' and poly_cfg.by_epoch is False
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=2.5e-4)
    kwargs = {k: v for k, v in poly_cfg.items() if k != 'type'}
    scheduler = PolyLR(opt, **kwargs)
    for i in range(1, 3001):
        scheduler.step()
        if i in (1, 1000, 3000):
            expected = 2.5e-4 * (1 - i / 250000)**0.9
            assert opt.param_groups[0]['lr'] == pytest.approx(expected,
                                                              rel=1e-9)


def test_schedule_is_the_originals():
    cfg = _cfg('configs/source_only/deeplabv2_r101_gta2cs.py')
    opt = cfg.optim_wrapper.optimizer
    assert opt == dict(type='SGD', lr=2.5e-4, momentum=0.9,
                       weight_decay=5e-4)
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys.decode_head.lr_mult == 10.0
    assert keys.auxiliary_head.lr_mult == 10.0
    (poly, ) = cfg.param_scheduler
    _assert_originals_poly(poly)
    assert cfg.train_cfg.max_iters == 150000  # AdaptSegNet's early stop
    syn = _cfg('configs/source_only/deeplabv2_r101_synthia2cs.py')
    assert syn.train_cfg.max_iters == 90000
    assert syn.optim_wrapper.optimizer.lr == 2.5e-4


ADAPTSEG = 'configs/adaptseg/deeplabv2_r101_{}.py'


def test_adaptseg_multi_level_is_the_originals():
    cfg = _cfg(ADAPTSEG.format('gta2cs'))
    model = cfg.model
    assert model.type == 'AdversarialUDASegmentor'
    # the UDA model takes its data preprocessor from the segmentor
    assert model.data_preprocessor is None
    seg = model.segmentor
    assert seg.data_preprocessor.mean == CAFFE_BGR_MEAN
    # AdaptSegNet's published classifier sums rates (6, 12) only
    assert tuple(seg.decode_head.dilations) == (6, 12)
    assert tuple(seg.auxiliary_head.dilations) == (6, 12)
    assert seg.auxiliary_head.loss_decode.loss_weight == 0.1
    disc = model.discriminator
    assert disc.type == 'FCDiscriminator'
    assert (disc.base_channels, disc.num_convs, disc.negative_slope) == \
        (64, 5, 0.2)
    assert model.adv_weights == dict(main=0.001, aux=0.0002)
    assert model.gan_loss == 'vanilla'
    seg_opt = cfg.optim_wrapper.segmentor
    assert cfg.optim_wrapper.constructor == 'MultiOptimWrapperConstructor'
    assert seg_opt.optimizer == dict(type='SGD', lr=2.5e-4, momentum=0.9,
                                     weight_decay=5e-4)
    assert seg_opt.paramwise_cfg.custom_keys.decode_head.lr_mult == 10.0
    assert seg_opt.paramwise_cfg.custom_keys.auxiliary_head.lr_mult == 10.0
    assert seg_opt.constructor == 'OriginalsListingOptimWrapperConstructor'
    assert cfg.optim_wrapper.discriminators.optimizer == dict(
        type='Adam', lr=1e-4, betas=(0.9, 0.99))
    for name in ('segmentor', 'discriminators'):
        (poly, ) = cfg.param_scheduler[name]
        _assert_originals_poly(poly)
    assert cfg.train_cfg.max_iters == 150000
    assert cfg.model_wrapper_cfg.type == 'MMSeparateDistributedDataParallel'
    assert cfg.default_hooks.checkpoint.save_best == 'mIoU'
    loader = cfg.train_dataloader
    assert loader.batch_size == 1  # 1 source + 1 target image
    assert loader.sampler.type == 'SourceTargetSampler'
    assert loader.dataset.type == 'SourceTargetDataset'
    assert loader.dataset.source.type == 'GTAVDataset'
    assert loader.dataset.target.type == 'CityscapesDataset'


def test_adaptseg_single_level_and_lsgan():
    single = _cfg(ADAPTSEG.format('single_gta2cs')).model
    assert single.segmentor.auxiliary_head is None
    assert single.adv_weights == dict(main=0.001)
    assert single.gan_loss == 'vanilla'
    lsgan = _cfg(ADAPTSEG.format('lsgan_gta2cs')).model
    # the published LS-GAN recipe: single-level, adversarial weight 0.01
    assert lsgan.segmentor.auxiliary_head is None
    assert lsgan.adv_weights == dict(main=0.01)
    assert lsgan.gan_loss == 'lsgan'


def test_adaptseg_synthia():
    cfg = _cfg(ADAPTSEG.format('synthia2cs'))
    assert cfg.train_dataloader.dataset.source.type == 'SynthiaDataset'
    scales = [s.scale for s in cfg.train_dataloader.dataset.source.pipeline
              if s.type == 'Resize']
    assert scales == [(1280, 760)]
    assert cfg.train_cfg.max_iters == 90000
    assert cfg.val_evaluator.type == 'SubsetIoUMetric'
    assert cfg.model.adv_weights == dict(main=0.001, aux=0.0002)
