"""torch.load(weights_only=True) of mmengine checkpoints, and only those."""
import pickle

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


def test_mmengine_checkpoint_loads_only_inside_the_context(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    with mmengine_checkpoint_globals():
        ckpt = torch.load(path, weights_only=True)
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.current() == 0.25 and buffer.mean() == 0.375
    assert ckpt['meta']['seed'] == 3
    np.testing.assert_array_equal(ckpt['array'], np.arange(4))
    # the allow-list is gone again after the context
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_getattr_beyond_history_buffer_statistics_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': _Sneaky()}, path)
    with mmengine_checkpoint_globals():
        with pytest.raises(pickle.UnpicklingError, match='__init__'):
            torch.load(path, weights_only=True)
