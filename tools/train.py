"""Train a segmentor or a UDA model with an mmseg_uda config.

Same flags as mmseg's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--amp-dtype {float16,bfloat16}]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse

from mmengine.config import Config

from mmseg_uda.utils import (AMP_DTYPES, check_amp_available, enable_amp,
                             mmengine_checkpoint_globals)
from mmseg_uda.utils.init_checkpoints import check_init_checkpoints
from mmseg_uda.utils.resume_checkpoint import find_resume_checkpoint
from mmseg_uda.utils.tool_config import (add_common_args, build_runner,
                                         check_checkpoint, close_tool_dist,
                                         load_tool_config)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir '
        'automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (needs CUDA)')
    parser.add_argument(
        '--amp-dtype',
        choices=AMP_DTYPES,
        default=None,
        help='autocast dtype with --amp (default: float16 on CUDA); each '
        'optimizer keeps its own dynamic loss scaler')
    add_common_args(parser)
    return parser.parse_args()


def choose_checkpoint(cfg: Config, resume: bool) -> None:
    """Settle the checkpoint the runner starts from, and check it.

    With ``resume``, the newest readable checkpoint of the work dir (an
    unreadable newer one is skipped with a warning; files of other
    directories are never used) becomes ``load_from``, which mmengine
    resumes from, and the run deletes none of the checkpoints written
    before it (``KeepOwnCheckpointsHook``). Without one in the work dir,
    mmengine resumes from the config's ``load_from``, if any. A local
    ``load_from`` must exist and be readable. The checkpoint is refused if
    its class count differs from the config's or if it fills less than half
    of the weights of the model's segmentor.

    Args:
        cfg (Config): The config, ``load_from``/``resume`` set in place.
        resume (bool): Whether ``--resume`` was given.

    Raises:
        FileNotFoundError: If a local ``load_from`` does not exist.
        UnreadableCheckpointError: If ``load_from`` cannot be read.
        ValueError: If the checkpoint's class count differs, or it does
            not fit the model.
        RuntimeError: If the work dir holds checkpoints but none loads.
    """
    cfg.resume = resume
    if resume:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='KeepOwnCheckpointsHook')]
        found = find_resume_checkpoint(cfg.work_dir)
        if found is not None:
            # the work dir's own checkpoint wins over a warm-start load_from
            cfg.load_from = found.path
            check_checkpoint(cfg, found.path, checkpoint=found.checkpoint)
            return
    load_from = cfg.get('load_from')
    if load_from is None or '://' in str(load_from):
        return  # nothing to load, or a URL that mmengine downloads
    check_checkpoint(cfg, load_from, 'load_from checkpoint')


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args)
    if args.amp_dtype is not None and not args.amp:
        raise SystemExit('tools/train.py: error: --amp-dtype needs --amp')
    if args.amp:
        try:
            check_amp_available()
        except RuntimeError as exc:
            raise SystemExit(f'tools/train.py: error: {exc}')
        enable_amp(cfg, args.amp_dtype)
    try:
        # mmengine loads init_cfg checkpoints only after building everything
        check_init_checkpoints(cfg.model)
    except FileNotFoundError as exc:
        raise SystemExit(f'tools/train.py: error: {exc}')
    choose_checkpoint(cfg, args.resume)
    runner = build_runner(cfg)
    # mmengine checkpoints hold numpy/HistoryBuffer objects that torch >= 2.6
    # refuses to unpickle by default: allow exactly those while resuming.
    with mmengine_checkpoint_globals():
        runner.train()


if __name__ == '__main__':
    main()
    close_tool_dist()
