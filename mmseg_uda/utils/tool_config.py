"""Config loading and runner building shared by the command-line tools."""
import argparse
import os
import os.path as osp
from typing import Optional, Tuple

import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.dist import get_dist_info, init_dist
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .config_check import check_uda_config
from .cpu_dist import setup_cpu_dist


def add_common_args(parser: argparse.ArgumentParser,
                    work_dir_help: str = 'the dir to save logs and outputs',
                    work_dir_required: bool = False) -> None:
    """Add mmseg's ``--work-dir``, ``--cfg-options``, ``--launcher`` and
    ``--local-rank`` to a tool's parser."""
    parser.add_argument(
        '--work-dir', required=work_dir_required, help=work_dir_help)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank / --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_tool_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` with the common arguments applied.

    Args:
        args (argparse.Namespace): Parsed arguments with ``config`` and the
            arguments of :func:`add_common_args`.

    Returns:
        Config: The config with ``launcher``, ``--cfg-options`` and
        ``work_dir`` (CLI > config > ``./work_dirs/<config name>``).

    Raises:
        FileNotFoundError: If the config file does not exist.
        ValueError: If a config dict of an mmseg_uda class has unknown keys
            (see :func:`~mmseg_uda.utils.config_check.check_uda_config`);
            checked after ``--cfg-options``, before anything is built.
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    check_uda_config(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def init_tool_dist(cfg: Config) -> Tuple[int, int]:
    """Start the process group of ``cfg.launcher`` now; rank and world size.

    A tool that splits work or writes files by rank before it builds a
    runner must not read the rank earlier: without a process group every
    process is rank 0 of 1. This starts the group as the runner would (a
    gloo group on a machine without CUDA, see :func:`setup_cpu_dist`,
    otherwise mmengine's ``init_dist`` with ``env_cfg.dist_cfg``, which
    also selects the process's GPU); the runner built later finds it and
    starts no other.

    Args:
        cfg (Config): The config, ``launcher`` set.

    Returns:
        tuple[int, int]: The rank and the world size ((0, 1) without a
        launcher).
    """
    if cfg.get('launcher', 'none') != 'none' and \
            not torch_dist.is_initialized() and not setup_cpu_dist(cfg):
        init_dist(cfg.launcher, **cfg.get('env_cfg', {}).get('dist_cfg', {}))
    return get_dist_info()


def build_runner(cfg: Config) -> Runner:
    """Build the config's runner (CPU-distributed when needed)."""
    setup_cpu_dist(cfg)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def require_file(path: Optional[str], what: str) -> None:
    """Raise ``FileNotFoundError`` naming ``path`` when it is not a file."""
    if path is None or not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
