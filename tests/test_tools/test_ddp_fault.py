"""Two-process CPU DDP (gloo): a rank that raises, or hangs, ends the whole
job with an error within a bounded time instead of leaving it stuck; a NaN
on one rank only makes every rank skip the step."""
import json
import os.path as osp
import re
import sys
from datetime import datetime

import pytest
import torch

from mmseg_uda.models.utils.nonfinite_guard import SKIPPED_KEY
from tests.tool_runs import run, tool_env, torchrun
from tools.demo.demo_dataset import generate_demo_dataset

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

CONFIG = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'
JOB_TIMEOUT = 300
# gloo's message when a collective waits longer than the process group's
# timeout (torch/csrc/distributed/c10d, gloo transport)
GLOO_TIMEOUT = r'Timed out waiting {ms}ms'
# shutdown on 2 busy cores, beyond dist_cfg.timeout
HANG_MARGIN = 60


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


def _run_ddp(repo_root, tmp_path, hooks, extra=(), flags=()):
    """torchrun 2 ranks of tools/train.py with ``hooks`` in custom_hooks.

    Returns:
        tuple: exit status, when it ended, and the job's output.
    """
    data = osp.join(tmp_path, 'data')
    if not osp.isdir(data):
        generate_demo_dataset(data, num_source_train=4, num_source_val=1,
                              num_target_train=4, num_target_val=1,
                              size=(32, 64))
    config = osp.join(tmp_path, 'fault_config.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = ['{osp.join(repo_root, CONFIG)}']\n"
                "custom_imports = dict(imports=['mmseg_uda', "
                "'tests.reference.fault_hooks', "
                "'tests.reference.rank_state_hook'])\n"
                f'custom_hooks = {list(hooks)!r}\n')
    cmd = [sys.executable, *torchrun(2), 'tools/train.py', config,
           '--work-dir', osp.join(tmp_path, 'work'), '--launcher', 'pytorch',
           *flags, '--cfg-options', *_options(data, extra)]
    # a job that does not end within JOB_TIMEOUT is killed and fails here
    proc = run(cmd, cwd=repo_root, timeout=JOB_TIMEOUT,
               env=tool_env(repo_root, OMP_NUM_THREADS='1'))
    return proc.returncode, datetime.now(), proc.stdout + proc.stderr


def _logged_at(out, line):
    """When mmengine logged ``line`` (its ``MM/DD HH:MM:SS`` stamp)."""
    match = re.search(r'(\d\d/\d\d \d\d:\d\d:\d\d) - mmengine - \w+ - ' +
                      re.escape(line), out)
    assert match, f'{line!r} not logged:\n{out[-3000:]}'
    stamp = datetime.strptime(match.group(1), '%m/%d %H:%M:%S')
    return stamp.replace(year=datetime.now().year)


def test_a_rank_that_raises_fails_the_job(repo_root, tmp_path):
    rc, _, out = _run_ddp(repo_root, str(tmp_path),
                          [dict(type='RaiseOnRankHook', rank=1,
                                iteration=2)])
    assert rc != 0, out[-3000:]
    assert 'InjectedFault: injected fault on rank 1 at iteration 2' in out
    # rank 0 got as far as the first iteration, then stopped too
    assert 'Iter(train) [1/4]' in out
    assert 'Iter(train) [4/4]' not in out


def test_a_hung_rank_times_out_the_others(repo_root, tmp_path):
    # rank 1 sleeps far longer than the job may take; rank 0 waits in a
    # collective until env_cfg.dist_cfg.timeout, then fails the job
    timeout = 15
    rc, ended, out = _run_ddp(
        repo_root, str(tmp_path),
        [dict(type='HangOnRankHook', rank=1, iteration=2, seconds=3600)],
        extra=[f'env_cfg.dist_cfg.timeout={timeout}'])
    assert rc != 0, out[-3000:]
    # training started: both ranks finished iteration 1 together
    assert 'Iter(train) [1/4]' in out, out[-3000:]
    assert 'Iter(train) [2/4]' not in out
    # gloo's own error (not the config dump, which also holds 'timeout'):
    # rank 0 gave up on the collective after dist_cfg.timeout
    assert re.search(GLOO_TIMEOUT.format(ms=timeout * 1000), out), \
        out[-3000:]
    # the job ended about the timeout after iteration 1, not at once and
    # not after gloo's 30-minute default (JOB_TIMEOUT would kill it first)
    waited = (ended - _logged_at(out, 'Iter(train) [1/4]')).total_seconds()
    assert timeout - 1 <= waited < timeout + HANG_MARGIN, waited


def _assert_ranks_identical(work, skipped):
    """Both ranks hold the same finite parameters and counted ``skipped``
    skipped steps."""
    params = [torch.load(osp.join(work, f'rank{r}_params.pth'),
                         map_location='cpu') for r in (0, 1)]
    for key, value in params[0].items():
        assert torch.isfinite(value).all(), key
        assert torch.equal(params[1][key], value), key
    for r in (0, 1):
        with open(osp.join(work, f'rank{r}_info.json')) as f:
            assert json.load(f)[SKIPPED_KEY] == skipped, r


def _skipped_in_checkpoint(path):
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    return ckpt['message_hub']['runtime_info'].get(SKIPPED_KEY)


def test_a_nan_on_one_rank_skips_the_step_on_every_rank(repo_root,
                                                         tmp_path):
    """Rank 1's losses are NaN in iterations 2 and 3 (rank 0's are finite).
    The guard's all-reduce makes both ranks skip both steps, so their
    weights stay identical and finite; the count of skipped steps survives
    --resume in between."""
    tmp = str(tmp_path)
    work = osp.join(tmp, 'work')
    hooks = [dict(type='NaNOnRankHook', rank=1, iterations=[2, 3]),
             dict(type='SaveRankParametersHook')]
    skip = ['model.nonfinite_loss=skip', 'train_cfg.val_interval=100',
            'default_hooks.checkpoint.interval=2']
    rc, _, out = _run_ddp(repo_root, tmp, hooks,
                          extra=skip + ['train_cfg.max_iters=2'])
    assert rc == 0, out[-5000:]
    # rank 0 saw finite losses and skipped because rank 1 did not
    assert 'non-finite loss at iteration 2: (another rank)' in out, \
        out[-5000:]
    _assert_ranks_identical(work, 1)
    assert _skipped_in_checkpoint(osp.join(work, 'iter_2.pth')) == 1

    rc, _, out = _run_ddp(repo_root, tmp, hooks, flags=['--resume'],
                          extra=skip + ['train_cfg.max_iters=4'])
    assert rc == 0, out[-5000:]
    assert 'resumed epoch: 0, iter: 2' in out, out[-5000:]
    assert '(2 skipped so far)' in out, out[-5000:]
    _assert_ranks_identical(work, 2)
    assert _skipped_in_checkpoint(osp.join(work, 'iter_4.pth')) == 2
