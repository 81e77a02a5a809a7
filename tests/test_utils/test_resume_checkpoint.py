"""Atomic checkpoint writes, and --resume falling back past a broken file."""
import glob
import logging
import os
import os.path as osp

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner.checkpoint import save_checkpoint

from mmseg_uda.utils.atomic_file_backend import AtomicLocalBackend
from mmseg_uda.utils.resume_checkpoint import (find_resume_checkpoint,
                                               list_step_checkpoints,
                                               resume_candidates)
from tests.conftest import mmengine_messages

pytestmark = pytest.mark.reliability

ATOMIC = dict(backend='atomic_local')


def _save(work_dir, step, value):
    """An mmengine-style training checkpoint, written as the hook does."""
    path = osp.join(work_dir, f'iter_{step}.pth')
    save_checkpoint(
        dict(meta=dict(iter=step), state_dict={'w': torch.full((3, ), value)},
             message_hub={}), path, backend_args=ATOMIC)
    return path


def _point_last_checkpoint(work_dir, path):
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(path)


def _truncate(path):
    size = osp.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(size // 2)


@pytest.fixture
def warnings_log():
    """Warnings logged through mmengine's current logger."""
    with mmengine_messages(logging.WARNING) as messages:
        yield messages


def test_the_atomic_backend_is_selected_by_name(tmp_path):
    backend = get_file_backend(str(tmp_path), backend_args=ATOMIC)
    assert isinstance(backend, AtomicLocalBackend)
    path = str(tmp_path / 'sub' / 'x.txt')
    backend.put_text('héllo', path)
    assert backend.get_text(path) == 'héllo'
    assert sorted(os.listdir(tmp_path / 'sub')) == ['x.txt']


def test_a_failing_write_leaves_neither_a_partial_nor_a_temp_file(
        tmp_path, monkeypatch):
    work = str(tmp_path)
    old = _save(work, 2, 1.0)
    before = open(old, 'rb').read()

    real_open = open

    class _DiskFull:
        """A file that takes 100 bytes, then fails like a full disk."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:100])
            raise OSError(28, 'No space left on device')

    def fake_open(path, mode='r', *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return _DiskFull(f) if 'w' in mode else f

    monkeypatch.setattr('builtins.open', fake_open)
    new = osp.join(work, 'iter_4.pth')
    with pytest.raises(OSError, match='No space'):
        save_checkpoint(dict(meta=dict(iter=4), state_dict={}), new,
                        backend_args=ATOMIC)
    # the same write through mmengine's own local backend leaves half a file
    with pytest.raises(OSError, match='No space'):
        save_checkpoint(dict(meta=dict(iter=4), state_dict={}),
                        osp.join(work, 'plain.pth'))
    monkeypatch.undo()
    assert osp.getsize(osp.join(work, 'plain.pth')) == 100
    os.remove(osp.join(work, 'plain.pth'))
    assert sorted(os.listdir(work)) == ['iter_2.pth']
    assert open(old, 'rb').read() == before


def test_an_interrupted_replace_keeps_the_old_file(tmp_path, monkeypatch):
    work = str(tmp_path)
    path = _save(work, 2, 1.0)

    def killed(src, dst):
        raise KeyboardInterrupt  # e.g. SIGINT between write and rename

    monkeypatch.setattr(os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        _save(work, 2, 5.0)
    monkeypatch.undo()
    assert os.listdir(work) == ['iter_2.pth']
    found = find_resume_checkpoint(work)
    assert found.path == path
    assert torch.equal(found.checkpoint['state_dict']['w'], torch.ones(3))


def test_steps_are_ordered_numerically(tmp_path):
    work = str(tmp_path)
    paths = {s: _save(work, s, float(s)) for s in (2, 10, 4)}
    torch.save({}, osp.join(work, 'best_mIoU_iter_12.pth'))
    assert list_step_checkpoints(work) == [paths[10], paths[4], paths[2]]
    # last_checkpoint names the file to try first
    _point_last_checkpoint(work, paths[4])
    assert resume_candidates(work) == [paths[4], paths[10], paths[2]]
    assert find_resume_checkpoint(work).path == paths[4]


def test_a_truncated_newest_checkpoint_falls_back_with_a_warning(
        tmp_path, warnings_log):
    work = str(tmp_path)
    old, new = _save(work, 2, 2.0), _save(work, 4, 4.0)
    _point_last_checkpoint(work, new)
    _truncate(new)
    found = find_resume_checkpoint(work)
    assert found.path == old
    assert found.checkpoint['meta']['iter'] == 2
    assert torch.equal(found.checkpoint['state_dict']['w'],
                       torch.full((3, ), 2.0))
    warning = [m for m in warnings_log if 'cannot read checkpoint' in m]
    assert len(warning) == 1
    assert new in warning[0] and old in warning[0]


@pytest.mark.parametrize('record', ['', 'missing'])
def test_a_broken_last_checkpoint_record_lists_the_files(
        tmp_path, record, warnings_log):
    work = str(tmp_path)
    _save(work, 2, 2.0)
    newest = _save(work, 6, 6.0)
    _point_last_checkpoint(
        work, osp.join(work, 'gone.pth') if record else '')
    assert find_resume_checkpoint(work).path == newest
    assert any('last_checkpoint' in m for m in warnings_log)


def test_a_non_training_file_is_skipped(tmp_path):
    work = str(tmp_path)
    old = _save(work, 2, 2.0)
    torch.save({'w': torch.ones(1)}, osp.join(work, 'iter_4.pth'))
    assert find_resume_checkpoint(work).path == old


def test_no_readable_checkpoint_is_an_error_listing_them(tmp_path):
    work = str(tmp_path)
    paths = [_save(work, s, 1.0) for s in (2, 4)]
    for path in paths:
        _truncate(path)
    with open(osp.join(work, 'epoch_1.pth'), 'wb') as f:
        f.write(b'not a pickle')
    with pytest.raises(RuntimeError, match='no readable checkpoint') as e:
        find_resume_checkpoint(work)
    for path in paths + [osp.join(work, 'epoch_1.pth')]:
        assert path in str(e.value)


def test_nothing_to_resume_from(tmp_path):
    assert find_resume_checkpoint(str(tmp_path)) is None
    assert find_resume_checkpoint(str(tmp_path / 'absent')) is None
    assert glob.glob(str(tmp_path / '*')) == []
