"""BDL's segmentation-side config: BDL's numbers pinned, the model builds,
and the self-training settings sit in one place."""
import os.path as osp

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_uda  # noqa: F401

CONFIG = 'configs/bdl/deeplabv2_r101_ssl_gta2cs.py'


def test_bdl_ssl_config_pins_bdl(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    model = cfg.model
    assert model.type == 'AdversarialUDASegmentor'
    # single-level adversarial 0.001 (BDL's --lambda-adv-target) + SSL 1
    assert model.adv_weights == dict(main=0.001)
    assert model.ssl_weights == dict(main=1.0)
    assert model.gan_loss == 'vanilla'
    seg = model.segmentor
    assert seg.auxiliary_head is None
    assert tuple(seg.decode_head.dilations) == (6, 12, 18, 24)
    assert seg.decode_head.loss_decode.loss_weight == 1.0
    # BDL's optimisers: SGD 2.5e-4 (10x classifier), Adam 1e-4 (0.9, 0.99),
    # poly 0.9 over 250k, the SSL run stopped at 120k
    assert cfg.optim_wrapper.segmentor.optimizer == dict(
        type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
    assert cfg.optim_wrapper.segmentor.paramwise_cfg.custom_keys[
        'decode_head'] == dict(lr_mult=10.0)
    assert cfg.optim_wrapper.discriminators.optimizer == dict(
        type='Adam', lr=1e-4, betas=(0.9, 0.99))
    for name in ('segmentor', 'discriminators'):
        poly = cfg.param_scheduler[name][0]
        assert (poly.type, poly.power, poly.end) == ('PolyLR', 0.9, 250001)
    assert cfg.train_cfg.max_iters == 120000
    assert cfg.train_dataloader.batch_size == 1

    # the pseudo-label settings, in one place and used where they matter
    assert cfg.ssl_weight == 1.0
    assert cfg.pseudo_label_rule == dict(rule='bdl', quantile=0.5, cap=0.9)
    [hook] = cfg.custom_hooks
    assert hook.type == 'PseudoLabelRoundsHook'
    assert hook.rule == cfg.pseudo_label_rule
    assert hook.rounds_at == cfg.ssl_rounds_at == []
    assert hook.initial_labels == cfg.initial_pseudo_labels
    assert hook.label_root == cfg.pseudo_label_root
    target = cfg.train_dataloader.dataset.target
    [load] = [t for t in target.pipeline if t.type == 'LoadPseudoLabels']
    assert load.label_dir == cfg.pseudo_label_root + '/current'
    resize = [t for t in target.pipeline if t.type == 'Resize'][0]
    assert resize.scale == (1024, 512) and not resize.keep_ratio
    src = cfg.train_dataloader.dataset.source
    assert [t for t in src.pipeline if t.type == 'Resize'][0].scale == (
        1280, 720)


def test_bdl_ssl_model_builds(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.model.segmentor.backbone.init_cfg = None
    cfg.model.segmentor.backbone.depth = 18
    cfg.model.segmentor.decode_head.in_channels = 512
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert set(model.discriminators) == {'main'}
    assert model.ssl_weights == dict(main=1.0)
