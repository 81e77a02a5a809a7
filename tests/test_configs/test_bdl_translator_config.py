"""BDL's translator config: the numbers of BDL's CycleGAN recipe
(liyunsheng13/BDL cyclegan/readme.md, cyclegan/networks.py get_scheduler,
CycleGAN's train.py epoch loop; tests/reference/cyclegan_options.py)."""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope
from mmseg.registry import PARAM_SCHEDULERS
from PIL import Image

import mmseg_uda  # noqa: F401
from tests.reference.cyclegan_options import cyclegan_epoch_lrs, scale_width
from tests.reference.models import load_config
from tests.reference.original_recipes import BDL_CYCLEGAN, CYCLEGAN_LR

CONFIG = 'configs/bdl/cyclegan_perceptual_gta2cs.py'


def test_model_and_losses():
    cfg = load_config(CONFIG)
    model = cfg.model
    assert model.type == 'CycleGANTranslator'
    assert model.generator == dict(type='ResnetGenerator', base_channels=64,
                                   num_blocks=9, init_std=0.02)
    assert model.discriminator == dict(type='PatchDiscriminator',
                                       base_channels=64, num_layers=3,
                                       init_std=0.02)
    assert model.gan_loss == 'lsgan' and model.pool_size == 50
    assert model.cycle_weight == 10.0 and model.identity_weight == 0.5
    assert model.perceptual_rec_weight == 10.0  # lambda_A * lambda_semantic
    assert model.perceptual_translation_weight == 0.1
    # BDL's perceptual network (cyclegan/deeplab.py) sums rates 6 and 12
    # of the segmentor's four
    assert model.perceptual_segmentor == dict(
        config='configs/bdl/deeplabv2_r101_ssl_gta2cs.py',
        checkpoint='work_dirs/bdl/round0_perceptual_segmentor.pth',
        dilations=(6, 12))
    pre = model.data_preprocessor
    assert pre.mean == pre.std == [127.5] * 3 and pre.bgr_to_rgb
    assert 'mmseg_uda' in cfg.custom_imports.imports


def test_data_scale_width_crop_flip_batch():
    cfg = load_config(CONFIG)
    loader = cfg.train_dataloader
    assert loader.batch_size == BDL_CYCLEGAN['batchSize']
    assert loader.sampler.type == 'SourceTargetSampler'
    source, target = loader.dataset.source, loader.dataset.target
    assert source.type == 'GTAVDataset' and source.data_root == 'data/gta'
    assert source.data_prefix.img_path == 'images'
    assert target.data_prefix == dict(img_path='leftImg8bit/train')
    for pipeline in (source.pipeline, target.pipeline):
        types = [t['type'] for t in pipeline]
        assert types == ['LoadImageFromFile', 'ScaleWidth', 'RandomCrop',
                         'RandomFlip', 'PackSegInputs']
        assert pipeline[1]['width'] == BDL_CYCLEGAN['loadSize']
        assert pipeline[1]['interpolation'] == 'bicubic'
        assert pipeline[2]['crop_size'] == (BDL_CYCLEGAN['fineSize'],) * 2
        assert pipeline[3]['prob'] == 0.5
    assert cfg.val_cfg is None and cfg.test_cfg is None


def test_optimizers_and_schedule():
    cfg = load_config(CONFIG)
    assert cfg.optim_wrapper.constructor == 'MultiOptimWrapperConstructor'
    for name in ('generators', 'discriminators'):
        opt = cfg.optim_wrapper[name].optimizer
        assert opt == dict(type='Adam', lr=CYCLEGAN_LR, betas=(0.5, 0.999))
    # 20 epochs of ceil(24966 / 4) iterations
    epochs = BDL_CYCLEGAN['niter'] + BDL_CYCLEGAN['niter_decay']
    epoch_length = 6242
    assert cfg.train_cfg.max_iters == epochs * epoch_length
    checkpoint = cfg.default_hooks.checkpoint
    assert checkpoint.interval == epoch_length and checkpoint.save_last
    assert set(cfg.param_scheduler) == {'generators', 'discriminators'}


@pytest.mark.parametrize('name', ['generators', 'discriminators'])
def test_lr_of_every_epoch_is_cyclegans(name):
    """Constant within an epoch, CycleGAN's lambda rule from epoch to epoch
    (the last epoch at lr 0), for every iteration of the 20 epochs."""
    cfg = load_config(CONFIG)
    init_default_scope('mmseg')
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam(
        [param], lr=cfg.optim_wrapper[name].optimizer.lr)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer))
                  for s in cfg.param_scheduler[name]]
    lrs = []
    for _ in range(cfg.train_cfg.max_iters):
        lrs.append(optimizer.param_groups[0]['lr'])
        for s in schedulers:
            s.step()
    expected = cyclegan_epoch_lrs(CYCLEGAN_LR, BDL_CYCLEGAN['niter'],
                                  BDL_CYCLEGAN['niter_decay'])
    assert len(expected) == 20 and expected[-1] == 0
    per_epoch = np.array(lrs).reshape(len(expected), -1)
    assert per_epoch.shape[1] == 6242
    np.testing.assert_allclose(
        per_epoch, np.repeat(np.array(expected)[:, None], 6242, axis=1),
        rtol=1e-12, atol=1e-20)


def test_scale_width_truncates_as_cyclegan():
    """1914x1052 GTA5 -> 1024x562 (a keep-ratio resize gives 563), pixels
    as CycleGAN's __scale_width (PIL bicubic)."""
    cfg = load_config(CONFIG)
    init_default_scope('mmseg')
    step = cfg.train_dataloader.dataset.source.pipeline[1]
    scale = Compose([step])
    rng = np.random.default_rng(0)
    # (width, height, CycleGAN's height at width 1024)
    for w, h, scaled in ((1914, 1052, 562), (2048, 1024, 512),
                         (1280, 721, 576)):
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out = scale(dict(img=rgb[..., ::-1].copy(),
                         gt_seg_map=rgb[..., 0].copy()))
        ref = np.asarray(scale_width(Image.fromarray(rgb), 1024))
        assert out['img'].shape[:2] == ref.shape[:2] == (scaled, 1024)
        np.testing.assert_array_equal(out['img'][..., ::-1], ref)
        assert out['gt_seg_map'].shape == (scaled, 1024)
