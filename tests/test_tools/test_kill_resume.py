"""tools/train.py killed with SIGKILL after a checkpoint, then --resume:
the final parameters equal those of an uninterrupted run."""
import os.path as osp
import signal
import sys

import pytest
import torch

from tests.tool_runs import (TOOL_TIMEOUT, finish, kill_group, start,
                             tool_env, wait_for)
from tools.demo.demo_dataset import generate_demo_dataset

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

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


def _config(tmp_path, repo_root, flag_file):
    """The demo config with a hook that parks the run before iteration 3
    (after iteration 2's checkpoint) and says so in ``flag_file``, so that
    the kill lands between two checkpoints whatever the machine's speed."""
    path = osp.join(tmp_path, 'paused_config.py')
    with open(path, 'w') as f:
        f.write(f"_base_ = ['{osp.join(repo_root, CONFIG)}']\n"
                "custom_imports = dict(imports=['mmseg_uda', "
                "'tests.reference.fault_hooks'])\n"
                "custom_hooks = [dict(type='PauseAtIterationHook', "
                f"iteration=3, flag_file={flag_file!r})]\n")
    return path


def _cmd(config, work_dir, options, *flags):
    return [sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
            *flags, '--cfg-options', *options]


def _start(repo_root, cmd, log_path):
    # one thread each: the uninterrupted run trains beside the killed one
    return start(cmd, cwd=repo_root, log_path=log_path,
                 env=tool_env(repo_root, OMP_NUM_THREADS='1',
                              MKL_NUM_THREADS='1'))


def _finish(proc, log_path):
    rc = finish(proc)
    with open(log_path) as f:
        out = f.read()
    assert rc == 0, out[-5000:]
    return out


def _kill_when(proc, flag_file):
    """SIGKILL ``proc``'s process group once ``flag_file`` exists."""
    wait_for(lambda: osp.isfile(flag_file), proc, TOOL_TIMEOUT,
             f'{flag_file} (the run parked)')
    kill_group(proc)
    assert proc.returncode == -signal.SIGKILL


def _params(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_sigkill_then_resume_equals_an_uninterrupted_run(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    data = osp.join(tmp_path, 'data')
    generate_demo_dataset(data, num_source_train=4, num_source_val=1,
                          num_target_train=4, num_target_val=1,
                          size=(32, 64))
    flag = osp.join(tmp_path, 'parked')
    config = _config(tmp_path, repo_root, flag)
    options = _options(data)
    straight, killed = (osp.join(tmp_path, n)
                        for n in ('straight', 'killed'))

    logs = {n: osp.join(tmp_path, f'{n}.log')
            for n in ('straight', 'killed', 'resumed')}
    # the uninterrupted run, without the pausing hook (it only waits)
    straight_proc = _start(repo_root, _cmd(CONFIG, straight, options),
                           logs['straight'])
    try:
        _kill_when(_start(repo_root, _cmd(config, killed, options),
                          logs['killed']), flag)
    finally:
        _finish(straight_proc, logs['straight'])
    # killed after iteration 2's checkpoint, before the next one
    assert osp.isfile(osp.join(killed, 'iter_2.pth'))
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
