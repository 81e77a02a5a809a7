"""Two-process CPU DDP (gloo): a rank that raises, or hangs, ends the whole
job with an error within a bounded time instead of leaving it stuck."""
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

import pytest

from mmseg_uda.demo.demo_dataset import generate_demo_dataset

pytestmark = pytest.mark.reliability

CONFIG = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'
JOB_TIMEOUT = 150


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _options(data_root, extra=()):
    opts = [
        f'train_dataloader.dataset.source.data_root={data_root}/source',
        f'train_dataloader.dataset.target.data_root={data_root}/target',
        'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
        'default_hooks.logger.interval=1', 'randomness.seed=0',
        'env_cfg.dist_cfg.backend=gloo',
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    for loader in ('val_dataloader', 'test_dataloader'):
        opts.append(f'{loader}.dataset.data_root={data_root}/target')
    return opts + list(extra)


def _run_ddp(repo_root, tmp_path, hook, extra=()):
    """torchrun 2 ranks of tools/train.py with ``hook`` in custom_hooks.

    Returns:
        tuple: exit status, seconds taken, and the job's output.
    """
    data = osp.join(tmp_path, 'data')
    generate_demo_dataset(data, num_source_train=4, num_source_val=1,
                          num_target_train=4, num_target_val=1,
                          size=(32, 64))
    config = osp.join(tmp_path, 'fault_config.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = ['{osp.join(repo_root, CONFIG)}']\n"
                "custom_imports = dict(imports=['mmseg_uda', "
                "'tests.reference.fault_hooks'])\n"
                f'custom_hooks = [{hook!r}]\n')
    cmd = [sys.executable, '-m', 'torch.distributed.run',
           '--nproc_per_node=2', f'--master_port={_free_port()}',
           'tools/train.py', config, '--work-dir',
           osp.join(tmp_path, 'work'), '--launcher', 'pytorch',
           '--cfg-options', *_options(data, extra)]
    env = dict(os.environ, PYTHONPATH=repo_root, OMP_NUM_THREADS='1')
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=repo_root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=JOB_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f'the job hung for {JOB_TIMEOUT} s:\n{out[-5000:]}')
    return proc.returncode, time.monotonic() - start, out


def test_a_rank_that_raises_fails_the_job(repo_root, tmp_path):
    rc, _, out = _run_ddp(repo_root, str(tmp_path),
                          dict(type='RaiseOnRankHook', rank=1, iteration=2))
    assert rc != 0, out[-3000:]
    assert 'InjectedFault: injected fault on rank 1 at iteration 2' in out
    # rank 0 got as far as the first iteration, then stopped too
    assert 'Iter(train) [1/4]' in out
    assert 'Iter(train) [4/4]' not in out


def test_a_hung_rank_times_out_the_others(repo_root, tmp_path):
    # rank 1 sleeps far longer than the job may take; rank 0 waits in a
    # collective until env_cfg.dist_cfg.timeout, then fails the job
    timeout = 15
    rc, seconds, out = _run_ddp(
        repo_root, str(tmp_path),
        dict(type='HangOnRankHook', rank=1, iteration=2, seconds=3600),
        extra=[f'env_cfg.dist_cfg.timeout={timeout}'])
    assert rc != 0, out[-3000:]
    assert 'Iter(train) [4/4]' not in out
    assert 'timed out' in out.lower() or 'timeout' in out.lower(), \
        out[-3000:]
    assert seconds < JOB_TIMEOUT
