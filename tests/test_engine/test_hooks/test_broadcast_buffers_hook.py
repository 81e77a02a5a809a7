"""BroadcastBuffersHook: two ranks validate with the BN statistics of the
checkpoint (rank 0's), not each with its own."""
import os.path as osp
import sys

import pytest
import torch
import torch.nn as nn

from mmseg_uda.engine.hooks import BroadcastBuffersHook
from tests.tool_runs import run, tool_env, torchrun


def run_two_ranks(repo_root, work_dir, mode):
    proc = run([sys.executable, *torchrun(2), 'tests/reference/bn_buffers_run.py',
                work_dir, mode], cwd=repo_root, env=tool_env(repo_root),
               timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    val = [torch.load(osp.join(work_dir, f'val2_rank{r}.pth'))
           for r in range(2)]
    ckpt = torch.load(osp.join(work_dir, 'iter_2.pth'), weights_only=False)
    # keys 'net.module.<i>...': the BN network saved inside its DDP wrapper
    saved = {k[len('net.module.'):]: v
             for k, v in ckpt['state_dict'].items() if 'running' in k}
    return val, saved


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize('mode', ['with_hook', 'without_hook'])
def test_ranks_validate_with_the_checkpoint_statistics(repo_root, tmp_path,
                                                       mode):
    (rank0, rank1), saved = run_two_ranks(repo_root, str(tmp_path), mode)
    assert _equal(rank0, saved)  # rank 0 validates what it saved
    if mode == 'with_hook':
        assert _equal(rank1, saved)
    else:  # the control: each rank keeps its own statistics
        assert not torch.allclose(rank1['1.running_mean'],
                                  saved['1.running_mean'])


def test_single_process_is_untouched():
    bn = nn.BatchNorm1d(2)
    bn.running_mean.fill_(3.0)
    BroadcastBuffersHook.broadcast_buffers(bn)
    assert torch.equal(bn.running_mean, torch.full((2, ), 3.0))
