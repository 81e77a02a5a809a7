"""The DAFormer configs hold DAFormer's recipe.

Every group of numbers below is written as the original states it, with
the file of lhoyer/MIC (``seg/``, DAFormer's code as MIC ships it) it comes
from, and compared with what the loaded configs say.
"""

import mmcv
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.optim.scheduler import LinearLR, PolyLR
from mmengine.registry import init_default_scope

from tests.reference.models import load_config

GTA = 'configs/daformer/daformer_mitb5_gta2cs.py'
SYNTHIA = 'configs/daformer/daformer_mitb5_synthia2cs.py'
ABLATION = 'configs/daformer/daformer_deeplabv2_r101_gta2cs.py'
LEAVES = [GTA, SYNTHIA, ABLATION]
MITB5 = [GTA, SYNTHIA]

# seg/configs/_base_/uda/dacs.py
DACS = dict(pseudo_threshold=0.968, mix='class', blur=True,
            color_jitter_strength=0.2, color_jitter_probability=0.2)
# seg/configs/_base_/uda/dacs_a999_fdthings.py
FDTHINGS = dict(alpha=0.999, imnet_feature_dist_lambda=0.005,
                imnet_feature_dist_classes=[6, 7, 11, 12, 13, 14, 15, 16,
                                            17, 18],
                imnet_feature_dist_scale_min_ratio=0.75)
# seg/experiments.py (plcrop=True) and seg/configs/daformer/
# gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py
CROP = dict(pseudo_weight_ignore_top=15, pseudo_weight_ignore_bottom=120)
# seg/experiments.py setup_rcs (rcs_T=0.01, rcs_min_crop=0.5)
RCS = dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)
# seg/configs/_base_/schedules/adamw.py
ADAMW = dict(type='AdamW', lr=0.00006, betas=(0.9, 0.999),
             weight_decay=0.01)
# seg/configs/_base_/schedules/poly10warm.py
POLY10WARM = dict(warmup_iters=1500, warmup_ratio=1e-6, power=1.0,
                  min_lr=0.0)
# seg/configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_
# mitb5_s0.py (the same from experiments.py config_from_vars for every run)
LEAF = dict(lr=6e-05,
            custom_keys=dict(head=dict(lr_mult=10.0),
                             pos_block=dict(decay_mult=0.0),
                             norm=dict(decay_mult=0.0)),
            max_iters=40000,
            checkpoint_config=dict(by_epoch=False, interval=40000,
                                   max_keep_ckpts=1),
            evaluation=dict(interval=4000, metric='mIoU'))
# seg/configs/_base_/datasets/uda_gta_to_cityscapes_512x512.py and
# uda_synthia_to_cityscapes_512x512.py
DATA = dict(crop_size=(512, 512), gta_img_scale=(1280, 720),
            synthia_img_scale=(1280, 760), cityscapes_img_scale=(1024, 512),
            cat_max_ratio=0.75, flip_prob=0.5, samples_per_gpu=2,
            workers_per_gpu=4, test_img_scale=(1024, 512), test_flip=False)
# seg/mmseg/models/backbones/mix_transformer.py (class mit_b5) and
# seg/configs/_base_/models/daformer_conv1_mitb5.py (drop_path_rate)
MIT_B5 = dict(embed_dims=[64, 128, 320, 512], num_heads=[1, 2, 5, 8],
              mlp_ratios=[4, 4, 4, 4], qkv_bias=True,
              depths=[3, 6, 40, 3], sr_ratios=[8, 4, 2, 1],
              drop_path_rate=0.1)


@pytest.mark.parametrize('path', LEAVES)
def test_uda_numbers(path):
    model = load_config(path).model
    assert model.type == 'DACSUDASegmentor'
    assert model.pseudo_threshold == DACS['pseudo_threshold']
    assert model.mix == DACS['mix']
    assert model.color_jitter_strength == DACS['color_jitter_strength']
    # the original jitters when U(0, 1) > probability: with 1 - p
    assert model.color_jitter_prob == pytest.approx(
        1 - DACS['color_jitter_probability'])
    assert DACS['blur'] and model.blur_prob == 0.5
    fd = model.imnet_feature_dist
    assert fd.type == 'FeatureDistanceLoss'
    assert fd.loss_weight == FDTHINGS['imnet_feature_dist_lambda']
    assert list(fd.thing_classes) == FDTHINGS['imnet_feature_dist_classes']
    assert fd.scale_min_ratio == \
        FDTHINGS['imnet_feature_dist_scale_min_ratio']
    assert model.pseudo_weight_ignore_top == \
        CROP['pseudo_weight_ignore_top']
    assert model.pseudo_weight_ignore_bottom == \
        CROP['pseudo_weight_ignore_bottom']


@pytest.mark.parametrize('path', LEAVES)
def test_schedule_numbers(path):
    cfg = load_config(path)
    ema, random_state = cfg.custom_hooks
    # ours: the model's random state is saved for an exact --resume
    assert random_state.type == 'RandomStateHook'
    assert (ema.type, ema.momentum) == ('MeanTeacherHook',
                                        FDTHINGS['alpha'])
    optim = cfg.optim_wrapper.segmentor
    assert dict(optim.optimizer) == ADAMW
    assert optim.optimizer.lr == LEAF['lr']
    assert optim.paramwise_cfg.custom_keys == LEAF['custom_keys']
    warmup, poly = cfg.param_scheduler.segmentor
    assert warmup.start_factor == POLY10WARM['warmup_ratio']
    # mmengine decays over end - begin - 1 steps
    assert warmup.end - 1 == POLY10WARM['warmup_iters']
    assert (poly.power, poly.eta_min) == (POLY10WARM['power'],
                                          POLY10WARM['min_lr'])
    assert poly.end - 1 == LEAF['max_iters'] == cfg.train_cfg.max_iters
    assert cfg.train_cfg.val_interval == LEAF['evaluation']['interval']
    assert cfg.val_evaluator.iou_metrics == ['mIoU']
    # the final checkpoint is the last one written, and it is kept (no
    # best-checkpoint selection); ours also writes one at every evaluation
    # so that a killed job can resume, keeping the last two
    ckpt = cfg.default_hooks.checkpoint
    assert LEAF['checkpoint_config']['interval'] == LEAF['max_iters']
    assert LEAF['max_iters'] % ckpt.interval == 0
    assert ckpt.interval == LEAF['evaluation']['interval']
    assert ckpt.by_epoch is LEAF['checkpoint_config']['by_epoch']
    assert ckpt.max_keep_ckpts == 2 and ckpt.get('save_best') is None


@pytest.mark.parametrize('path', LEAVES)
def test_learning_rate_follows_mmcv_poly_with_linear_warmup(path):
    """mmcv 1.x PolyLrUpdaterHook with warmup='linear' (what poly10warm.py
    configures): lr = base * (1 - i / max) ** power, times
    1 - (1 - i / warmup_iters) * (1 - warmup_ratio) during the warm-up."""
    cfg = load_config(path)
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=ADAMW['lr'])
    kinds = dict(LinearLR=LinearLR, PolyLR=PolyLR)
    schedulers = [
        kinds[c.type](optimizer, **{k: v for k, v in c.items()
                                    if k != 'type'})
        for c in cfg.param_scheduler.segmentor
    ]
    max_iters, warm = LEAF['max_iters'], POLY10WARM['warmup_iters']
    checks = {0, 1, 750, 1499, 1500, 1501, 20000, 39999}
    for i in range(max_iters):
        if i in checks:
            want = ADAMW['lr'] * (1 - i / max_iters)**POLY10WARM['power']
            if i < warm:
                want *= 1 - (1 - i / warm) * (1 - POLY10WARM['warmup_ratio'])
            assert optimizer.param_groups[0]['lr'] == pytest.approx(
                want, rel=1e-6, abs=1e-15), i
        if i > max(checks):
            break
        optimizer.step()
        for s in schedulers:
            s.step()


@pytest.mark.parametrize('path', LEAVES)
def test_data_numbers(path):
    cfg = load_config(path)
    loader = cfg.train_dataloader
    assert loader.batch_size == DATA['samples_per_gpu']
    assert loader.num_workers == DATA['workers_per_gpu']
    assert dict(loader.dataset.rare_class_sampling) == RCS
    source, target = loader.dataset.source, loader.dataset.target
    scale = DATA['synthia_img_scale'] if path == SYNTHIA \
        else DATA['gta_img_scale']
    assert [t.type for t in source.pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomCrop',
        'RandomFlip', 'PackSegInputs']
    resize, crop, flip = source.pipeline[2:5]
    # mmseg 0.x Resize(img_scale=...) keeps the ratio by default
    assert (resize.scale, resize.keep_ratio) == (scale, True)
    assert crop.crop_size == DATA['crop_size']
    assert crop.cat_max_ratio == DATA['cat_max_ratio']
    assert flip.prob == DATA['flip_prob']
    resize, crop, flip = target.pipeline[1:4]
    assert (resize.scale, resize.keep_ratio) == (
        DATA['cityscapes_img_scale'], True)
    assert crop.crop_size == DATA['crop_size']
    assert crop.get('cat_max_ratio', 1.0) == 1.0
    assert flip.prob == DATA['flip_prob']
    assert target.type == 'CityscapesDataset'
    assert source.type == ('SynthiaDataset' if path == SYNTHIA
                           else 'GTAVDataset')
    # ClassMix pads both domains to the crop (the original's Pad)
    assert cfg.model.segmentor.data_preprocessor.size == DATA['crop_size']


@pytest.mark.parametrize('path', MITB5)
def test_mit_b5_numbers(path):
    backbone = load_config(path).model.segmentor.backbone
    assert backbone.type == 'MixVisionTransformer'
    # mmseg: embed_dims is the per-head width, stage i has
    # embed_dims * num_heads[i] channels
    assert [backbone.embed_dims * h for h in backbone.num_heads] == \
        MIT_B5['embed_dims']
    assert backbone.num_heads == MIT_B5['num_heads']
    assert [backbone.mlp_ratio] * 4 == MIT_B5['mlp_ratios']
    assert backbone.qkv_bias is MIT_B5['qkv_bias']
    assert backbone.num_layers == MIT_B5['depths']
    assert backbone.sr_ratios == MIT_B5['sr_ratios']
    assert backbone.drop_path_rate == MIT_B5['drop_path_rate']
    assert backbone.init_cfg == dict(
        type='Pretrained', checkpoint='checkpoints/mit_b5_mmseg.pth')


def test_synthia_is_scored_as_the_other_synthia_configs():
    ours = load_config(SYNTHIA)
    other = load_config('configs/adaptseg/deeplabv2_r101_synthia2cs.py')
    assert ours.val_evaluator == other.val_evaluator
    assert ours.test_evaluator == other.test_evaluator
    assert len(ours.val_evaluator.class_subsets.mIoU16) == 16


@pytest.mark.parametrize('path', LEAVES)
def test_evaluation_is_whole_image_at_1024x512_scored_at_label_size(
        path, tmp_path):
    """The original's test pipeline resizes to 1024x512 keeping the ratio,
    no flip; mmseg resizes the logits back to the label's size. Ours
    loads the label after the resize, so it keeps its full size."""
    cfg = load_config(path)
    assert cfg.model.segmentor.test_cfg == dict(mode='whole',
                                                logits_to_ori_shape=True)
    assert cfg.test_dataloader == cfg.val_dataloader
    pipeline = cfg.val_dataloader.dataset.pipeline
    assert [t.type for t in pipeline] == [
        'LoadImageFromFile', 'Resize', 'LoadAnnotations', 'PackSegInputs']
    assert pipeline[1].scale == DATA['test_img_scale']
    img_path, seg_path = tmp_path / 'img.png', tmp_path / 'seg.png'
    mmcv.imwrite(np.zeros((1024, 2048, 3), np.uint8), str(img_path))
    mmcv.imwrite(np.zeros((1024, 2048), np.uint8), str(seg_path))
    init_default_scope('mmseg')
    out = Compose(pipeline)(dict(
        img_path=str(img_path), seg_map_path=str(seg_path),
        reduce_zero_label=False, seg_fields=[]))
    assert tuple(out['inputs'].shape) == (3, 512, 1024)
    assert tuple(out['data_samples'].gt_sem_seg.shape) == (1024, 2048)
    assert out['data_samples'].ori_shape == (1024, 2048)


def test_stats_are_read_from_the_source_root():
    # no stats_dir: the statistics files sit in the source data_root
    for path, root in ((GTA, 'data/gta'), (SYNTHIA, 'data/synthia')):
        dataset = load_config(path).train_dataloader.dataset
        assert 'stats_dir' not in dataset.rare_class_sampling
        assert dataset.source.data_root == root


# seg/configs/_base_/models/deeplabv2_r50-d8.py with deeplabv2red_r50-d8.py
# (dilations (6, 12)) and experiments.py backbone 'r101v1c' (depth 101,
# open-mmlab://resnet101_v1c)
DLV2RED = dict(
    backbone=dict(type='ResNetV1c', depth=101, dilations=(1, 1, 2, 4),
                  strides=(1, 2, 1, 1), norm_eval=False,
                  contract_dilation=True, style='pytorch'),
    decode_head=dict(in_channels=2048, in_index=3, dilations=(6, 12),
                     align_corners=False, init_std=0.01))


def test_ablation_network_is_daformers_deeplabv2():
    """The ablation runs DAFormer's DeepLab-v2 ('dlv2red' + 'r101v1c'),
    whose 512x512 crops give the 64x64 features the feature distance
    divides the labels by."""
    segmentor = load_config(ABLATION).model.segmentor
    for part, numbers in DLV2RED.items():
        for key, value in numbers.items():
            got = segmentor[part][key]
            got = tuple(got) if isinstance(got, (list, tuple)) else got
            assert got == value, (part, key)
    assert segmentor.backbone.norm_cfg == dict(type='BN', requires_grad=True)
    assert segmentor.decode_head.type == 'DeepLabV2Head'
    assert segmentor.get('auxiliary_head') is None
    assert segmentor.backbone.init_cfg.checkpoint == \
        'checkpoints/resnet101_v1c.pth'
    assert tuple(segmentor.data_preprocessor.size) == (512, 512)
    assert segmentor.data_preprocessor.bgr_to_rgb is True
