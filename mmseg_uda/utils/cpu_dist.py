"""Distributed runs on machines without CUDA."""
import datetime
import os
import subprocess
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

CPU_LAUNCHERS = ('pytorch', 'slurm')


def slurm_to_torch_env(port: Optional[int] = None) -> None:
    """Set torch's rendezvous variables from Slurm's, for ``srun``.

    Does what mmengine's Slurm launcher does before it starts a process
    group, without its ``torch.cuda.set_device``: ``RANK`` =
    ``SLURM_PROCID``, ``WORLD_SIZE`` = ``SLURM_NTASKS``, ``LOCAL_RANK`` =
    ``SLURM_LOCALID``, ``MASTER_ADDR`` = the first host of
    ``SLURM_NODELIST`` (``scontrol show hostname``) unless set,
    ``MASTER_PORT`` = ``port``, else the environment's, else 29500.

    Args:
        port (int, optional): The rendezvous port (``dist_cfg.port``).

    Raises:
        RuntimeError: If a Slurm variable is missing (not run by ``srun``)
            or ``scontrol`` cannot name the first node.
    """
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')
               if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher slurm needs the Slurm variables '
                           f'{missing}: start the tool with srun (e.g. '
                           'tools/slurm_train.sh)')
    proc_id = os.environ['SLURM_PROCID']
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        try:
            hosts = subprocess.run(
                ['scontrol', 'show', 'hostname', node_list],
                capture_output=True, text=True, check=True).stdout.split()
        except (OSError, subprocess.CalledProcessError) as exc:
            raise RuntimeError(
                f'`scontrol show hostname {node_list}` failed ({exc}); set '
                'MASTER_ADDR to the first node of the job') from exc
        if not hosts:
            raise RuntimeError(f'`scontrol show hostname {node_list}` named '
                               'no host; set MASTER_ADDR')
        os.environ['MASTER_ADDR'] = hosts[0]
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = proc_id
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def setup_cpu_dist(cfg: Config) -> bool:
    """Prepare ``--launcher pytorch`` or ``--launcher slurm`` on a machine
    without CUDA.

    mmengine 0.10's launcher helpers always call ``torch.cuda.set_device``,
    which a CPU build of torch lacks, and its runner hands DDP wrappers
    ``device_ids=[LOCAL_RANK]``, which CPU modules refuse. The runner skips
    its own initialisation when a process group exists, so this starts a
    gloo group from torchrun's environment variables (set from Slurm's by
    :func:`slurm_to_torch_env` for ``slurm``) and sets the model wrapper's
    ``device_ids`` to None.

    ``env_cfg.dist_cfg.timeout`` (seconds), as mmengine reads it, bounds how
    long a collective waits for the other ranks: with it, a rank that hangs
    makes the others fail after that long instead of after gloo's default
    30 minutes.

    Args:
        cfg (Config): The config (``launcher`` set); modified in place.

    Returns:
        bool: Whether a CPU process group was started here.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher not in CPU_LAUNCHERS or \
            torch.cuda.is_available() or torch_dist.is_initialized():
        return False
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg', {})
    timeout = dist_cfg.get('timeout')
    kwargs = {}
    if timeout is not None:
        if isinstance(timeout, bool) or \
                not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError('env_cfg.dist_cfg.timeout must be a positive '
                             f'number of seconds, got {timeout!r}')
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    if launcher == 'slurm':
        slurm_to_torch_env(dist_cfg.get('port'))
    torch_dist.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    print_log(f'no CUDA: started a gloo process group (rank '
              f'{torch_dist.get_rank()}/{torch_dist.get_world_size()})',
              logger='current')
    return True
