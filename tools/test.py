"""Test (evaluate) a checkpoint with an mmseg_uda config.

Same flags as mmseg's ``tools/test.py``::

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--out DIR]
        [--show] [--show-dir DIR] [--wait-time S] [--tta]
        [--cfg-options KEY=VALUE ...] [--launcher ...]

CHECKPOINT may be left out only for a model that loads its own weights
(e.g. ``EnsembleSegmentor``, whose members name their checkpoints).
"""
import argparse

from mmengine.config import Config
from mmseg.registry import MODELS

from mmseg_uda.utils import mmengine_checkpoint_globals
from mmseg_uda.utils.tool_config import (add_common_args, build_runner,
                                         check_checkpoint, close_tool_dist,
                                         load_tool_config, require_file)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        default=None,
        help='checkpoint file; optional for a model that loads its own '
        'checkpoints (e.g. EnsembleSegmentor)')
    parser.add_argument(
        '--out',
        type=str,
        help='directory where painted prediction images are saved as PNG '
        '(label ids)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. If specified, '
        'it will be automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='Test time augmentation')
    add_common_args(
        parser,
        work_dir_help='the directory to save the file containing evaluation '
        'metrics')
    return parser.parse_args()


def enable_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Turn on mmseg's ``SegVisualizationHook`` for ``--show``/``--show-dir``.

    Args:
        cfg (Config): The config, modified in place.
        args (argparse.Namespace): The parsed arguments.
    """
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise KeyError('--show/--show-dir need `default_hooks.visualization` '
                       '(a SegVisualizationHook) in the config')
    hook.draw = True
    hook.interval = 1  # paint every test image, not every 50th
    if args.show:
        hook.show = True
        hook.wait_time = args.wait_time
    if args.show_dir:
        visualizer = cfg.visualizer
        visualizer['save_dir'] = args.show_dir


def loads_own_checkpoints(cfg: Config) -> bool:
    """Whether the config's model loads its weights itself when built.

    Args:
        cfg (Config): The config (``custom_imports`` already imported).

    Returns:
        bool: True for a model class with ``loads_own_checkpoints = True``.
    """
    model_type = cfg.model.get('type')
    model_cls = MODELS.get(model_type) if isinstance(model_type, str) \
        else model_type
    return bool(getattr(model_cls, 'loads_own_checkpoints', False))


def main() -> None:
    args = parse_args()
    if args.checkpoint is not None:
        require_file(args.checkpoint, 'checkpoint')
    cfg = load_tool_config(args)
    if args.checkpoint is None and not loads_own_checkpoints(cfg):
        raise SystemExit(
            f'tools/test.py: error: CHECKPOINT is required: the model of '
            f'{args.config} ({cfg.model.get("type")}) does not load its '
            'own weights')
    if args.checkpoint is not None:
        # readable, same classes, fills the model: refused before any work
        check_checkpoint(cfg, args.checkpoint)
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out

    runner = build_runner(cfg)
    with mmengine_checkpoint_globals():
        runner.test()


if __name__ == '__main__':
    main()
    close_tool_dist()
