"""Rank target training images by prediction entropy (IntraDA step 2).

Runs the model of CONFIG (e.g. the AdvEnt config) with CHECKPOINT over the
target training images (``train_dataloader.dataset.target``, fed at the
test pipeline's size, 1024x512 for Cityscapes) through mmseg's test loop
and writes into ``--work-dir`` the easy/hard splits, per-image scores and
the easy split's pseudo-labels (see ``mmseg_uda/datasets/ranking_dir.py``
for the layout)::

    python tools/rank_targets.py CONFIG CHECKPOINT --work-dir DIR
        [--lambda 0.67] [--rare-normalize] [--batch-size N]
        [--launcher {none,pytorch,slurm,mpi}] [--cfg-options KEY=VALUE ...]

Resumable: images whose per-image result exists are not run again, and
every file is written atomically, so an interrupted run can be restarted
with the same command. Changing ``--lambda``/``--rare-normalize`` on a
finished directory only re-ranks (no network run). Each result records the
checkpoint (path, size, time): results of another checkpoint are computed
again, never reused.
"""
import argparse

from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from mmseg_uda.datasets.target_set import ranking_dataset_cfg
from mmseg_uda.evaluation.target_set_loop import (RANKING_TEST_CFG,
                                                  dataset_names)
from mmseg_uda.utils import mmengine_checkpoint_globals
from mmseg_uda.utils.checkpoint_identity import checkpoint_identity
from mmseg_uda.utils.tool_config import (add_common_args, build_runner,
                                         check_checkpoint, close_tool_dist,
                                         init_tool_dist, load_tool_config)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Rank target images by entropy (IntraDA)')
    parser.add_argument('config', help='config of the adapted model')
    parser.add_argument('checkpoint', help='checkpoint of the adapted model')
    parser.add_argument('--lambda', dest='easy_ratio', type=float,
                        default=0.67,
                        help='fraction of images in the easy split')
    parser.add_argument('--rare-normalize', action='store_true',
                        help="multiply scores by IntraDA's rare-class "
                        'normaliser')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='images per batch (default: the test loader)')
    add_common_args(
        parser,
        work_dir_help='ranking directory (splits, scores, labels)',
        work_dir_required=True)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args)
    check_checkpoint(cfg, args.checkpoint)
    cfg.load_from = args.checkpoint
    init_default_scope(cfg.get('default_scope', 'mmseg'))

    dataset = ranking_dataset_cfg(cfg)
    names, _ = dataset_names(dataset)  # a bad dataset fails here
    # the process group first: before it exists every process is rank 0
    _, world = init_tool_dist(cfg)
    loader = cfg.test_dataloader
    loader.dataset = dataset
    if args.batch_size is not None:
        loader.batch_size = args.batch_size
    loader.sampler = dict(type='DefaultSampler', shuffle=False)
    # the images still to score: TargetSetLoop asks the ranker
    cfg.test_cfg = dict(type='TargetSetLoop', predict_cfg=RANKING_TEST_CFG)
    cfg.test_evaluator = dict(
        type='EntropyRanker', out_dir=cfg.work_dir,
        easy_ratio=args.easy_ratio, rare_normalize=args.rare_normalize,
        model_id=checkpoint_identity(args.checkpoint))
    # progress: one log line (with ETA) per ~2% of the images
    logger = cfg.default_hooks.get('logger')
    if logger is not None:
        logger['interval'] = max(1, min(50, len(names) // world // 50))

    runner = build_runner(cfg)
    with mmengine_checkpoint_globals():
        metrics = runner.test()
    print_log(f'ranked: {metrics}', logger='current')


if __name__ == '__main__':
    main()
    close_tool_dist()
