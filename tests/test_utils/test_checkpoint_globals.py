"""torch.load(weights_only=True) of mmengine checkpoints, and only those."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from mmseg_uda.utils import mmengine_checkpoint_globals


class _Sneaky:
    """Pickles as getattr(HistoryBuffer, '__init__'): must be refused."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def _mmengine_like_checkpoint(path):
    hub = MessageHub.get_instance('test_checkpoint_globals')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_scalar('train/loss', 0.25)
    hub.update_info('iter', 3)
    torch.save(
        dict(meta=dict(seed=np.int64(3), iter=3),
             message_hub=hub.state_dict(),
             state_dict={'w': torch.ones(2)},
             array=np.arange(4, dtype=np.float32)), path)


LOAD_IN_A_FRESH_PROCESS = """
import pickle, sys, torch
try:
    torch.load(sys.argv[1])
except pickle.UnpicklingError:
    print('refused without mmseg_uda')
import mmseg_uda
hub = torch.load(sys.argv[1])['message_hub']
print(type(hub['log_scalars']['train/loss']).__name__, 'after the import')
"""


@pytest.mark.slow
def test_mmengine_checkpoint_loads_once_the_package_is_imported(
        repo_root, tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_like_checkpoint(path)
    # torch's default weights_only=True, as mmseg's init_model loads
    proc = subprocess.run(
        [sys.executable, '-c', LOAD_IN_A_FRESH_PROCESS, path],
        cwd=repo_root, capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=repo_root), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split('\n')[:2] == [
        'refused without mmseg_uda', 'HistoryBuffer after the import']
    with mmengine_checkpoint_globals():
        ckpt = torch.load(path, weights_only=True)
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.current() == 0.25 and buffer.mean() == 0.375
    assert ckpt['meta']['seed'] == 3
    np.testing.assert_array_equal(ckpt['array'], np.arange(4))


def test_getattr_beyond_history_buffer_statistics_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': _Sneaky()}, path)
    with mmengine_checkpoint_globals():
        with pytest.raises(pickle.UnpicklingError, match='__init__'):
            torch.load(path, weights_only=True)


def test_types_stay_allowed_after_the_context(tmp_path):
    """Leaving the context must not undo the process-wide allow-list that
    importing mmseg_uda set up (torch's safe_globals context removes what
    it added when it ends)."""
    path = str(tmp_path / 'buffer.pth')
    buffer = HistoryBuffer()
    buffer.update(1.0)
    buffer.update(2.0)
    torch.save(dict(buffer=buffer), path)
    with mmengine_checkpoint_globals():
        torch.load(path, weights_only=True)
    loaded = torch.load(path, weights_only=True)
    assert loaded['buffer'].mean() == pytest.approx(1.5)
