"""The DACS configs: DAFormer's numbers, and both networks build."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from mmseg_uda.engine.hooks.mean_teacher_hook import MeanTeacherHook
from mmseg_uda.engine.optimizers import MultiOptimWrapperConstructor
from mmseg_uda.models.uda.dacs_uda_segmentor import DACSUDASegmentor
from tests.reference.models import load_config

DEEPLAB = 'configs/selftrain/deeplabv2_r101_dacs_gta2cs.py'
SEGFORMER = 'configs/selftrain/segformer_mitb5_dacs_gta2cs.py'


@pytest.mark.parametrize('path', [DEEPLAB, SEGFORMER])
def test_daformer_numbers(path):
    cfg = load_config(path)
    assert cfg.model.type == 'DACSUDASegmentor'
    assert cfg.model.pseudo_threshold == 0.968
    assert cfg.model.mix == 'class'
    assert (cfg.model.color_jitter_strength, cfg.model.color_jitter_prob,
            cfg.model.blur_prob) == (0.2, 0.8, 0.5)
    assert tuple(cfg.model.blur_sigma) == (0.15, 1.15)
    assert [dict(h) for h in cfg.custom_hooks] == [
        dict(type='MeanTeacherHook', momentum=0.999, interval=1,
             warm_up=True),
        dict(type='RandomStateHook')  # ours: exact --resume
    ]
    optim = cfg.optim_wrapper
    assert set(optim) == {'constructor', 'segmentor'}
    assert dict(optim.segmentor.optimizer) == dict(
        type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01)
    assert optim.segmentor.paramwise_cfg.custom_keys.head.lr_mult == 10.0
    warmup, poly = cfg.param_scheduler.segmentor
    assert (warmup.type, warmup.start_factor, warmup.end) == \
        ('LinearLR', 1e-06, 1501)
    assert (poly.type, poly.power, poly.eta_min, poly.end) == \
        ('PolyLR', 1.0, 0.0, 40001)
    assert cfg.train_cfg.max_iters == 40000
    assert cfg.train_cfg.val_interval == 4000
    loader = cfg.train_dataloader
    assert loader.batch_size == 2
    assert loader.dataset.source.pipeline[3].crop_size == (512, 512)
    assert loader.dataset.source.pipeline[3].cat_max_ratio == 0.75
    assert loader.dataset.target.pipeline[2].crop_size == (512, 512)
    # ClassMix pads both domains to the crop: the UDA model takes the
    # segmentor's data preprocessor
    assert cfg.model.data_preprocessor is None
    assert cfg.model.segmentor.data_preprocessor.size == (512, 512)
    assert cfg.model.segmentor.data_preprocessor.get('size_divisor') is None
    assert cfg.model_wrapper_cfg.type == 'MMSeparateDistributedDataParallel'


def test_poly10warm_is_daformer_schedule():
    from mmengine.optim.scheduler import LinearLR, PolyLR
    cfg = load_config(DEEPLAB).param_scheduler.segmentor
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    schedulers = [
        cls(optimizer, **{k: v for k, v in dict(c).items() if k != 'type'})
        for cls, c in zip((LinearLR, PolyLR), cfg)
    ]
    lrs = []
    for _ in range(1600):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    for i in (0, 1, 750, 1499, 1500, 1599):
        # mmcv's poly with linear warm-up, as DAFormer ran it
        warm = 1 - (1 - i / 1500) * (1 - 1e-6) if i < 1500 else 1.0
        assert lrs[i] == pytest.approx((1 - i / 40000) * warm, rel=1e-9)


def _build(path, prepare):
    cfg = load_config(path)
    prepare(cfg.model.segmentor)
    init_default_scope('mmseg')
    return MODELS.build(cfg.model), cfg


def _check_student_teacher(model, cfg):
    assert isinstance(model, DACSUDASegmentor)
    teacher = {n: p for n, p in model.teacher.named_parameters()}
    student = {n: p for n, p in model.student.named_parameters()}
    assert teacher.keys() == student.keys()
    assert not any(p.requires_grad for p in teacher.values())
    optim = MultiOptimWrapperConstructor(
        {k: v for k, v in cfg.optim_wrapper.items()
         if k != 'constructor'})(model)
    groups = optim['segmentor'].param_groups
    optimized = {id(p) for g in groups for p in g['params']}
    assert {id(p) for p in student.values() if p.requires_grad} <= optimized
    assert not optimized & {id(p) for p in teacher.values()}
    head = {id(p) for p in model.student.decode_head.parameters()}
    for group in groups:
        lr = 6e-4 if id(group['params'][0]) in head else 6e-5
        assert group['lr'] == pytest.approx(lr)
    # the hook finds both
    student_, teacher_ = MeanTeacherHook.student_and_teacher(
        type('R', (), {'model': model})())
    assert student_ is model.segmentor and teacher_ is model.teacher
    return groups


def test_deeplabv2_config_builds():
    def prepare(seg):
        seg.backbone.init_cfg = None
    model, cfg = _build(DEEPLAB, prepare)
    _check_student_teacher(model, cfg)
    assert model.segmentor.backbone.depth == 101
    assert not model.segmentor.with_auxiliary_head
    assert model.segmentor.decode_head.dilations == (6, 12)
    assert not model.data_preprocessor.channel_conversion  # caffe BGR


@pytest.mark.slow
def test_segformer_mitb5_config_builds():
    def prepare(seg):
        seg.backbone.init_cfg = None
    model, cfg = _build(SEGFORMER, prepare)
    groups = _check_student_teacher(model, cfg)
    seg = model.segmentor
    assert type(seg.backbone).__name__ == 'MixVisionTransformer'
    assert type(seg.decode_head).__name__ == 'SegformerHead'
    assert seg.backbone.num_layers == [3, 6, 40, 3]
    assert seg.decode_head.channels == 768
    assert model.data_preprocessor.channel_conversion  # RGB, ImageNet
    # no weight decay on norms (DAFormer's MiT settings)
    names = {id(p): n for n, p in model.segmentor.named_parameters()}
    norm_groups = [g for g in groups
                   if 'norm' in names.get(id(g['params'][0]), '')]
    assert norm_groups
    assert all(g['weight_decay'] == 0.0 for g in norm_groups)
