"""Config loading and runner building shared by the command-line tools."""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Tuple

import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.dist import get_dist_info, init_dist
from mmengine.registry import RUNNERS, DefaultScope
from mmengine.runner import Runner
from mmseg.registry import MODELS

from .checkpoint_classes import check_checkpoint_classes
from .checkpoint_coverage import check_checkpoint_coverage
from .config_check import check_uda_config
from .cpu_dist import setup_cpu_dist
from .quiet_runner import QuietRunner, hide_known_warnings
from .resume_checkpoint import load_checkpoint_file

#: The launcher script of each tool that has one.
_DIST_SCRIPTS = {'train.py': 'tools/dist_train.sh CONFIG NUM_GPUS',
                 'test.py': 'tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS'}


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
        SystemExit: For ``--launcher pytorch`` without torchrun's
            environment (see :func:`check_launcher`).
    """
    check_launcher(args.launcher)
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


def close_tool_dist() -> None:
    """End the process group of a tool's finished run, if one was started.

    Called after a tool's work succeeded: every process waits for the others
    (rank 0 may still be writing a checkpoint), then each destroys its group
    and joins its communication threads itself. Left to the interpreter's
    exit, gloo's threads can abort a finished worker ("terminate called
    without an active exception"), which torchrun then reports as a failed
    run.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def build_runner(cfg: Config) -> Runner:
    """Build the config's runner (CPU-distributed when needed).

    Without ``runner_type`` it is a :class:`QuietRunner`: mmengine's runner
    whose log leaves out the config dump, environment, hook order and
    per-parameter lines unless ``log_level='DEBUG'``; mmseg's
    ``align_corners`` hint is ignored (see :func:`hide_known_warnings`).
    """
    setup_cpu_dist(cfg)
    hide_known_warnings()
    if 'runner_type' not in cfg:
        return QuietRunner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def require_file(path: Optional[str], what: str) -> None:
    """Raise ``FileNotFoundError`` naming ``path`` when it is not a file."""
    if path is None or not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')


def check_launcher(launcher: str, tool: Optional[str] = None) -> None:
    """Refuse ``--launcher pytorch`` in a process torchrun did not start.

    torch's rendezvous then fails with "environment variable RANK
    expected"; this says which command starts the processes instead.

    Args:
        launcher (str): The ``--launcher`` value.
        tool (str, optional): The tool's file name; ``sys.argv[0]``'s by
            default.

    Raises:
        SystemExit: Naming the command to use.
    """
    needed = ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
    missing = [name for name in needed if name not in os.environ]
    if launcher != 'pytorch' or not missing:
        return
    tool = tool or osp.basename(sys.argv[0])
    script = _DIST_SCRIPTS.get(tool)
    how = f'`bash {script} [ARGS]`' if script else \
        f'`torchrun --nproc_per_node=N tools/{tool} ... --launcher pytorch`'
    raise SystemExit(
        f'{tool}: error: --launcher pytorch needs the environment that '
        f'torchrun sets ({", ".join(missing)} not set): start the processes '
        f'with {how}, or leave out --launcher to run one process')


def check_checkpoint(cfg: Config, path: str, what: str = 'checkpoint',
                     checkpoint: Optional[dict] = None) -> dict:
    """Check a checkpoint against the config before any work starts.

    The file must exist and be readable (an error names it otherwise), its
    class count must be the config's, and it must fill most of the weights
    of the config's model (of its segmentor, for a UDA model), checked by
    loading it into a model built from ``cfg.model`` for the purpose.

    Args:
        cfg (Config): The tool's config (``custom_imports`` imported).
        path (str): The checkpoint file.
        what (str): What the file is, for the not-found message.
        checkpoint (dict, optional): Its content, when already loaded.

    Returns:
        dict: The checkpoint's content.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        UnreadableCheckpointError: If it cannot be read.
        ValueError: For another class count, or a checkpoint that fills
            less than half of the model's weights (with the counts).
    """
    if checkpoint is None:
        require_file(path, what)
        checkpoint = load_checkpoint_file(path)
    check_checkpoint_classes(cfg, checkpoint, path)
    scope = cfg.get('default_scope') or 'mmseg'
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    check_checkpoint_coverage(model, checkpoint, path)
    return checkpoint
