"""BDL's translator config: the numbers of BDL's CycleGAN recipe."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.optim.scheduler import ConstantLR, LinearLR

from tests.reference.models import load_config

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
    assert loader.batch_size == 4  # BDL's readme
    assert loader.sampler.type == 'SourceTargetSampler'
    source, target = loader.dataset.source, loader.dataset.target
    assert source.type == 'GTAVDataset' and source.data_root == 'data/gta'
    assert source.data_prefix.img_path == 'images'
    assert target.data_prefix == dict(img_path='leftImg8bit/train')
    for pipeline in (source.pipeline, target.pipeline):
        types = [t['type'] for t in pipeline]
        assert types == ['LoadImageFromFile', 'Resize', 'RandomCrop',
                         'RandomFlip', 'PackSegInputs']
        assert pipeline[1]['scale'] == (1024, 1024)
        assert pipeline[1]['keep_ratio'] is True
        assert pipeline[1]['interpolation'] == 'bicubic'
        assert pipeline[2]['crop_size'] == (452, 452)
        assert pipeline[3]['prob'] == 0.5
    assert cfg.val_cfg is None and cfg.test_cfg is None


def test_optimizers_and_schedule():
    cfg = load_config(CONFIG)
    assert cfg.optim_wrapper.constructor == 'MultiOptimWrapperConstructor'
    for name in ('generators', 'discriminators'):
        opt = cfg.optim_wrapper[name].optimizer
        assert opt == dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))
    # 20 epochs of ceil(24966 / 4) iterations, 10 constant + 10 decaying
    assert cfg.train_cfg.max_iters == 20 * 6242
    checkpoint = cfg.default_hooks.checkpoint
    assert checkpoint.interval == 6242 and checkpoint.save_last
    assert set(cfg.param_scheduler) == {'generators', 'discriminators'}
    init_default_scope('mmseg')
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=2e-4)
    kinds = {'ConstantLR': ConstantLR, 'LinearLR': LinearLR}
    schedulers = []
    for sched in cfg.param_scheduler.generators:
        sched = dict(sched)
        schedulers.append(kinds[sched.pop('type')](optimizer, **sched))
    lrs = []
    for _ in range(cfg.train_cfg.max_iters):
        lrs.append(optimizer.param_groups[0]['lr'])
        for s in schedulers:
            s.step()
    assert lrs[0] == lrs[62419] == pytest.approx(2e-4)
    assert lrs[62420 + 31210] == pytest.approx(1e-4, rel=1e-3)
    # mmengine's LinearLR reaches end_factor on the last iteration (as
    # CycleGAN's lambda rule reaches 0 in its last epoch)
    assert lrs[-1] == 0 and 0 < lrs[-2] < 2e-4 / 62000
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
