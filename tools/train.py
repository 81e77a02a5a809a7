"""Train a segmentor or a UDA model with an mmseg_uda config.

Same flags as mmseg's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse

from mmseg_uda.utils import enable_amp, mmengine_checkpoint_globals
from mmseg_uda.utils.tool_config import (add_common_args, build_runner,
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
        help='enable automatic-mixed-precision training')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args)
    if args.amp:
        enable_amp(cfg)
    cfg.resume = args.resume
    runner = build_runner(cfg)
    # mmengine checkpoints hold numpy/HistoryBuffer objects that torch >= 2.6
    # refuses to unpickle by default: allow exactly those while resuming.
    with mmengine_checkpoint_globals():
        runner.train()


if __name__ == '__main__':
    main()
