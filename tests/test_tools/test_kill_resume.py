"""tools/train.py killed with SIGKILL after a checkpoint, then --resume:
the final parameters equal those of an uninterrupted run."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmseg_uda.demo.demo_dataset import generate_demo_dataset

pytestmark = pytest.mark.reliability

CONFIG = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'
MAX_ITERS = 4


def _options(data_root):
    opts = [
        f'train_dataloader.dataset.source.data_root={data_root}/source',
        f'train_dataloader.dataset.target.data_root={data_root}/target',
        f'train_cfg.max_iters={MAX_ITERS}',
        f'train_cfg.val_interval={MAX_ITERS}',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'default_hooks.logger.interval=1', 'randomness.seed=0',
        'randomness.deterministic=True',
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    for loader in ('val_dataloader', 'test_dataloader'):
        opts.append(f'{loader}.dataset.data_root={data_root}/target')
    return opts


def _config(tmp_path, repo_root):
    """The demo config with a hook that slows iterations down, so that the
    kill lands between two checkpoints."""
    path = osp.join(tmp_path, 'slow_config.py')
    with open(path, 'w') as f:
        f.write(f"_base_ = ['{osp.join(repo_root, CONFIG)}']\n"
                "custom_imports = dict(imports=['mmseg_uda', "
                "'tests.reference.fault_hooks'])\n"
                "custom_hooks = [dict(type='SlowIterationsHook', "
                "seconds=0.5, begin=3)]\n")
    return path


def _cmd(config, work_dir, options, *flags):
    return [sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
            *flags, '--cfg-options', *options]


def _env(repo_root):
    # one thread each: the uninterrupted run trains beside the killed one
    return dict(os.environ, PYTHONPATH=repo_root, OMP_NUM_THREADS='1',
                MKL_NUM_THREADS='1')


def _start(repo_root, cmd, log_path):
    with open(log_path, 'w') as log:
        return subprocess.Popen(cmd, cwd=repo_root, env=_env(repo_root),
                                stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _finish(proc, log_path, timeout=300):
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with open(log_path) as f:
        out = f.read()
    assert proc.returncode == 0, out[-5000:]
    return out


def _kill_after(proc, first_checkpoint, timeout=240):
    """SIGKILL ``proc``'s process group once ``first_checkpoint`` exists."""
    deadline = time.monotonic() + timeout
    try:
        while not osp.isfile(first_checkpoint):
            assert proc.poll() is None, 'training ended before the kill'
            assert time.monotonic() < deadline, 'no checkpoint in time'
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _params(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_sigkill_then_resume_equals_an_uninterrupted_run(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    data = osp.join(tmp_path, 'data')
    generate_demo_dataset(data, num_source_train=4, num_source_val=1,
                          num_target_train=4, num_target_val=1,
                          size=(32, 64))
    config = _config(tmp_path, repo_root)
    options = _options(data)
    straight, killed = (osp.join(tmp_path, n)
                        for n in ('straight', 'killed'))

    logs = {n: osp.join(tmp_path, f'{n}.log')
            for n in ('straight', 'killed', 'resumed')}
    # the uninterrupted run, without the slow-down hook (it only sleeps)
    straight_proc = _start(repo_root, _cmd(CONFIG, straight, options),
                           logs['straight'])
    try:
        _kill_after(_start(repo_root, _cmd(config, killed, options),
                           logs['killed']), osp.join(killed, 'iter_2.pth'))
    finally:
        _finish(straight_proc, logs['straight'])
    # killed after iteration 2's checkpoint, before the next one
    assert not osp.exists(osp.join(killed, f'iter_{MAX_ITERS}.pth'))
    out = _finish(
        _start(repo_root, _cmd(CONFIG, killed, options, '--resume'),
               logs['resumed']), logs['resumed'])
    assert 'resumed epoch: 0, iter: 2' in out, out[-3000:]
    assert f'Iter(train) [{MAX_ITERS}/{MAX_ITERS}]' in out
    assert 'Iter(train) [1/' not in out and 'Iter(train) [2/' not in out

    a, b = (_params(osp.join(d, f'iter_{MAX_ITERS}.pth'))
            for d in (straight, killed))
    assert a['meta']['iter'] == b['meta']['iter'] == MAX_ITERS
    assert set(a['state_dict']) == set(b['state_dict'])
    assert any(k.startswith('discriminators.') for k in a['state_dict'])
    for key, value in a['state_dict'].items():
        assert torch.equal(b['state_dict'][key], value), key
    for name in ('segmentor', 'discriminators'):
        for pid, state in a['optimizer'][name]['state'].items():
            for k, v in state.items():
                assert torch.equal(
                    b['optimizer'][name]['state'][pid][k], v), (name, k)
