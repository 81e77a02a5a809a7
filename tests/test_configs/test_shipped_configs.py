"""Every shipped number from the originals, pinned against DESIGN.md."""
import glob
import os.path as osp

import pytest
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
    cfg.model.backbone.init_cfg = None
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert model.decode_head.num_classes == cfg.model.decode_head.num_classes


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


def test_schedule_is_the_originals():
    cfg = _cfg('configs/source_only/deeplabv2_r101_gta2cs.py')
    opt = cfg.optim_wrapper.optimizer
    assert opt == dict(type='SGD', lr=2.5e-4, momentum=0.9,
                       weight_decay=5e-4)
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys.decode_head.lr_mult == 10.0
    assert keys.auxiliary_head.lr_mult == 10.0
    (poly, ) = cfg.param_scheduler
    assert poly.type == 'PolyLR' and poly.power == 0.9
    assert (poly.begin, poly.end, poly.eta_min) == (0, 250000, 0.0)
    assert cfg.train_cfg.max_iters == 150000  # AdaptSegNet's early stop
    syn = _cfg('configs/source_only/deeplabv2_r101_synthia2cs.py')
    assert syn.train_cfg.max_iters == 90000
    assert syn.optim_wrapper.optimizer.lr == 2.5e-4
