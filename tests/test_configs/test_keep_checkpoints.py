"""Every shipped training config keeps at least two checkpoints, as the
README's reliability section advises (a kill while saving leaves the
previous one to resume from)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from tests.conftest import REPO_ROOT

TRAINING = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                       recursive=True) if '_base_' not in p)


@pytest.mark.parametrize('path', TRAINING)
def test_keeps_two_checkpoints_or_more(path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is None or 'train_cfg' not in cfg:
        pytest.skip('not a training config')
    keep = checkpoint.get('max_keep_ckpts', -1)
    assert keep <= 0 or keep >= 2, f'{path}: max_keep_ckpts={keep}'
