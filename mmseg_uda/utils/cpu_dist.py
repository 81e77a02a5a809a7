"""Distributed runs on machines without CUDA."""
import datetime

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log


def setup_cpu_dist(cfg: Config) -> bool:
    """Prepare ``--launcher pytorch`` on a machine without CUDA.

    mmengine 0.10's launcher helpers always call ``torch.cuda.set_device``,
    which a CPU build of torch lacks, and its runner hands DDP wrappers
    ``device_ids=[LOCAL_RANK]``, which CPU modules refuse. The runner skips
    its own initialisation when a process group exists, so this starts a
    gloo group from torchrun's environment variables and sets the model
    wrapper's ``device_ids`` to None.

    ``env_cfg.dist_cfg.timeout`` (seconds), as mmengine reads it, bounds how
    long a collective waits for the other ranks: with it, a rank that hangs
    makes the others fail after that long instead of after gloo's default
    30 minutes.

    Args:
        cfg (Config): The config (``launcher`` set); modified in place.

    Returns:
        bool: Whether a CPU process group was started here.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or \
            torch.cuda.is_available() or torch_dist.is_initialized():
        return False
    timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
    if timeout is None:
        torch_dist.init_process_group(backend='gloo')
    else:
        if isinstance(timeout, bool) or \
                not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError('env_cfg.dist_cfg.timeout must be a positive '
                             f'number of seconds, got {timeout!r}')
        torch_dist.init_process_group(
            backend='gloo', timeout=datetime.timedelta(seconds=timeout))
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    print_log(f'no CUDA: started a gloo process group (rank '
              f'{torch_dist.get_rank()}/{torch_dist.get_world_size()})',
              logger='current')
    return True
