"""Running the tools of the GPU check and reading what they leave.

Every tool runs as its own process (as a user would start it), with its
output in ``<work-dir>/logs/<check>.log``; a failing tool raises
:class:`CheckFailed` quoting the end of its log.
"""
import glob
import json
import math
import os
import os.path as osp
import socket
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

HERE = osp.dirname(osp.abspath(__file__))
ONE_GPU_SHIM = osp.join(HERE, 'gpu_check_one_gpu.py')


class CheckFailed(Exception):
    """A check ran and its result is wrong."""


class CheckSkipped(Exception):
    """A check cannot run here (the reason is the message)."""


@dataclass
class CheckContext:
    """What every check needs.

    Args:
        repo (str): Repository root (tools and configs).
        work_dir (str): The check's work dir.
        data_root (str): The demo data.
        tiny (bool): CPU mode with tiny sizes.
        configs (dict): Config paths by name (see ``gpu_check_configs``).
        timeout (float): Seconds one tool may run.
        num_target_train (int): Target training images of the demo data.
        artifacts (dict): Files made by passed checks, by key.
        results (dict): Figures of the passed checks, by check name.
    """
    repo: str
    work_dir: str
    data_root: str
    tiny: bool
    configs: Dict[str, str]
    timeout: float
    num_target_train: int
    artifacts: Dict[str, str] = field(default_factory=dict)
    results: Dict[str, Dict] = field(default_factory=dict)

    @property
    def device(self) -> str:
        """``'cpu'`` in tiny mode, else ``'cuda'``."""
        return 'cpu' if self.tiny else 'cuda'

    def path(self, *parts: str) -> str:
        """A path under the work dir."""
        return osp.join(self.work_dir, *parts)


def free_port() -> int:
    """A free TCP port on this machine for torchrun's rendezvous."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tool_env(ctx: CheckContext) -> Dict[str, str]:
    """The environment of a tool: this repository first on ``PYTHONPATH``;
    no visible GPU and one CPU thread in tiny mode."""
    env = dict(os.environ)
    paths = [ctx.repo] + [p for p in env.get('PYTHONPATH', '').split(
        os.pathsep) if p]
    env['PYTHONPATH'] = os.pathsep.join(paths)
    env['PYTHONUNBUFFERED'] = '1'
    if ctx.tiny:
        env['CUDA_VISIBLE_DEVICES'] = ''
        # one thread per process: OpenMP threads spinning on a busy machine
        # slow small CPU runs down many times over
        env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = '1'
    return env


def _tail(text: str, lines: int = 15) -> str:
    return '\n'.join(text.strip().splitlines()[-lines:])


def run_tool(ctx: CheckContext, log_name: str, tool: str,
             args: Sequence[str], nproc: int = 1) -> str:
    """Run ``tools/<tool>`` with ``args``; return its output.

    Args:
        ctx (CheckContext): The check context.
        log_name (str): Name of the log file (``logs/<name>.log``).
        tool (str): Path of the tool, relative to the repository.
        args (Sequence[str]): Its arguments.
        nproc (int): With 2 or more, run under ``torchrun
            --nproc_per_node`` (and ``--launcher pytorch``). On a GPU the
            ranks share the one GPU through ``gpu_check_one_gpu.py``.

    Returns:
        str: stdout and stderr of the run.

    Raises:
        CheckFailed: If the tool exits with an error or runs past the
            timeout; the message ends with the last lines of its log.
    """
    cmd = [sys.executable]
    if nproc > 1:
        cmd += ['-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
                f'--master_port={free_port()}']
        if not ctx.tiny:
            cmd.append(ONE_GPU_SHIM)
    cmd += [osp.join(ctx.repo, tool), *args]
    if nproc > 1:
        cmd += ['--launcher', 'pytorch']
    log = ctx.path('logs', f'{log_name}.log')
    os.makedirs(osp.dirname(log), exist_ok=True)
    with open(log, 'w') as f:
        f.write(' '.join(cmd) + '\n\n')
        f.flush()
        try:
            proc = subprocess.run(cmd, cwd=ctx.repo, env=tool_env(ctx),
                                  stdout=f, stderr=subprocess.STDOUT,
                                  timeout=ctx.timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    with open(log) as f:
        output = f.read()
    if code is None:
        raise CheckFailed(f'{tool} ran past {ctx.timeout:.0f} s (log {log})'
                          f'\n{_tail(output)}')
    if code != 0:
        raise CheckFailed(f'{tool} exited with {code} (log {log})\n'
                          f'{_tail(output)}')
    return output


def latest_scalars(work_dir: str) -> List[Dict]:
    """Rows of the newest run's ``vis_data/scalars.json`` in ``work_dir``."""
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not runs:
        raise CheckFailed(f'no scalars.json logged under {work_dir}')
    with open(runs[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def training_figures(work_dir: str, iters: int,
                     validate: bool = True) -> Dict[str, float]:
    """Figures of a training run from its log; checks it is complete.

    Args:
        work_dir (str): The run's work dir.
        iters (int): The iteration the run must have reached (and
            checkpointed).
        validate (bool): Whether the run must have logged mIoU.

    Returns:
        dict: ``iters``, ``ms_per_iter`` (median of the logged iteration
        times after the first), ``loss_sum`` (of the loss terms logged at
        the last iteration), ``mIoU`` with
        ``validate``, ``peak_gpu_mb`` where logged (CUDA).

    Raises:
        CheckFailed: If an iteration or checkpoint is missing, a logged value
            is not finite, or mIoU is missing.
    """
    rows = latest_scalars(work_dir)
    train = [r for r in rows if 'mIoU' not in r and any(
        'loss' in k for k in r)]
    if not train or train[-1].get('step') != iters:
        last = train[-1].get('step') if train else None
        raise CheckFailed(f'expected {iters} logged iterations in {work_dir}'
                          f', the last logged is {last}')
    bad = sorted({k for r in train for k, v in r.items()
                  if isinstance(v, float) and not math.isfinite(v)})
    if bad:
        raise CheckFailed(f'non-finite values logged: {", ".join(bad)}')
    checkpoint = osp.join(work_dir, f'iter_{iters}.pth')
    if not osp.isfile(checkpoint):
        raise CheckFailed(f'no checkpoint {checkpoint}')
    times = [r['time'] for r in train[1:]] or [train[0]['time']]
    losses = [v for k, v in train[-1].items() if 'loss' in k]
    figures = dict(iters=iters,
                   ms_per_iter=round(1000 * statistics.median(times), 1),
                   loss_sum=round(sum(losses), 4))
    memory = [r['memory'] for r in train if 'memory' in r]
    if memory:
        figures['peak_gpu_mb'] = max(memory)
    if validate:
        val = [r for r in rows if 'mIoU' in r]
        if not val:
            raise CheckFailed(f'no validation mIoU logged in {work_dir}')
        figures['mIoU'] = val[-1]['mIoU']
    return figures


def load_checkpoint(path: str) -> Dict:
    """An mmengine checkpoint on the CPU (its own file, trusted)."""
    import torch
    if not osp.isfile(path):
        raise CheckFailed(f'no checkpoint {path}')
    return torch.load(path, map_location='cpu', weights_only=False)


def require_artifact(ctx: CheckContext, key: str,
                     made_by: str) -> str:
    """A file an earlier check made, or a clear failure naming that check."""
    path = ctx.artifacts.get(key)
    if path is None or not osp.exists(path):
        raise CheckFailed(f'needs the {key} of the {made_by} check, which '
                          'did not pass')
    return path
