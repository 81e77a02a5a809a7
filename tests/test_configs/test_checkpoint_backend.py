"""Every shipped training config saves checkpoints atomically."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.fileio import get_file_backend

from mmseg_uda.utils.atomic_file_backend import AtomicLocalBackend

pytestmark = pytest.mark.reliability

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, 'configs/**/*.py'), recursive=True)
    if '_base_' not in p)


def test_configs_are_found():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize('path', CONFIGS)
def test_training_configs_use_the_atomic_backend(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    if 'train_cfg' not in cfg:
        pytest.skip('not a training config')
    hook = cfg.default_hooks.checkpoint
    assert hook.type == 'CheckpointHook'
    assert hook.backend_args == dict(backend='atomic_local')
    backend = get_file_backend(cfg.get('work_dir', 'work_dirs'),
                               backend_args=hook.backend_args)
    assert isinstance(backend, AtomicLocalBackend)
