"""Rank target training images by prediction entropy (IntraDA step 2).

Runs the model of CONFIG (e.g. the AdvEnt config) with CHECKPOINT over the
target training images (``train_dataloader.dataset.target``, fed at the
test pipeline's size, 1024x512 for Cityscapes) through mmseg's test loop
and writes into ``--work-dir`` the easy/hard splits, per-image scores and
the easy split's pseudo-labels (see ``mmseg_uda/evaluation/metrics/
ranking_io.py`` for the layout)::

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
import logging
import os.path as osp

from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from mmseg_uda.evaluation.metrics.entropy_ranker import (
    RARE_CLASSES, ranking_dataset_cfg)
from mmseg_uda.evaluation.metrics.ranking_io import (IMAGE_LIST, image_key,
                                                     is_done, stale_results,
                                                     write_ranking)
from mmseg_uda.utils import mmengine_checkpoint_globals
from mmseg_uda.utils.atomic_io import atomic_write_text
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


def list_images(dataset_cfg: dict) -> tuple:
    """Names (``<city>/<stem>``) of the dataset's images and its suffix."""
    dataset = DATASETS.build(dataset_cfg)
    suffix = getattr(dataset, 'img_suffix', '_leftImg8bit.png')
    names = [image_key(info['img_path'], suffix)
             for info in dataset.load_data_list()]
    if len(set(names)) != len(names):
        raise ValueError('two images share a <city>/<stem> name')
    return sorted(names), suffix


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args)
    check_checkpoint(cfg, args.checkpoint)
    rank_dir = cfg.work_dir
    cfg.load_from = args.checkpoint
    init_default_scope(cfg.get('default_scope', 'mmseg'))

    dataset = ranking_dataset_cfg(cfg)
    names, suffix = list_images(dataset)
    model_id = checkpoint_identity(args.checkpoint)
    stale = stale_results(rank_dir, names, model_id)
    if stale:
        print_log(f'{len(stale)} images of {rank_dir} were scored by another '
                  f'checkpoint (or an unrecorded one), e.g. {stale[0]}: '
                  f'scoring them again with {model_id}', logger='current',
                  level=logging.WARNING)
    todo = [n for n in names if not is_done(rank_dir, n, model_id)]
    # the process group first: before it exists every process is rank 0
    rank, world = init_tool_dist(cfg)
    if rank == 0:
        atomic_write_text(osp.join(rank_dir, IMAGE_LIST),
                          ''.join(f'{n}\n' for n in names))
    print_log(f'{len(names)} images to rank, {len(names) - len(todo)} '
              f'already scored with this checkpoint in {rank_dir}',
              logger='current')
    if not todo:
        if rank == 0:
            summary = write_ranking(rank_dir, args.easy_ratio,
                                    args.rare_normalize, len(RARE_CLASSES),
                                    names, model_id)
            print_log(f'ranked: {summary}', logger='current')
        return

    # Only the images without a result: a per-rank ann_file of the rest.
    todo_file = osp.join(rank_dir, '.todo', f'rank{rank}.txt')
    atomic_write_text(todo_file, ''.join(f'{n}\n' for n in todo))
    dataset['ann_file'] = osp.abspath(todo_file)
    loader = cfg.test_dataloader
    loader.dataset = dataset
    if args.batch_size is not None:
        loader.batch_size = args.batch_size
    loader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.test_evaluator = dict(
        type='EntropyRanker', out_dir=rank_dir, easy_ratio=args.easy_ratio,
        rare_normalize=args.rare_normalize, img_suffix=suffix,
        model_id=model_id)
    # progress: one log line (with ETA) per ~2% of the images
    per_rank = len(todo) // world
    logger = cfg.default_hooks.get('logger')
    if logger is not None:
        logger['interval'] = max(1, min(50, per_rank // 50))

    runner = build_runner(cfg)
    with mmengine_checkpoint_globals():
        metrics = runner.test()
    print_log(f'ranked: {metrics}', logger='current')


if __name__ == '__main__':
    main()
    close_tool_dist()
