"""The shipped runtime's settings for multi-GPU runs."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, 'configs/**/*.py'), recursive=True)
    if '_base_' not in p)


def test_runtime_waits_an_hour_for_rank_zero_work():
    # torch's NCCL default (10 minutes) is shorter than rank-0-only steps
    # such as BDL's class thresholds over every target image
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/default_runtime.py'))
    assert cfg.env_cfg.dist_cfg == dict(backend='nccl', timeout=3600)


@pytest.mark.parametrize('path', TRAIN_CONFIGS)
def test_every_config_inherits_the_timeout(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    assert cfg.env_cfg.dist_cfg.timeout >= 3600


@pytest.mark.parametrize('path', TRAIN_CONFIGS)
def test_validating_configs_use_rank_zero_buffers(path):
    # multi-GPU validation with the BN statistics the checkpoints hold
    cfg = Config.fromfile(osp.join(ROOT, path))
    if cfg.get('val_cfg') is None:
        pytest.skip('no validation (image translator)')
    assert cfg.default_hooks.sync_buffers == dict(
        type='BroadcastBuffersHook')
