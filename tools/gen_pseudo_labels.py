"""Generate pseudo-labels of the target training images (BDL's SSL step).

Runs the model of CONFIG with CHECKPOINT over the target training images
(``train_dataloader.dataset.target``, or ``rank_dataset`` when the config
has one, fed at the test pipeline's size: 1024x512 for Cityscapes, labels
at that size like BDL) and writes into ``--work-dir`` one uint8 label PNG
per image (``pseudo_labels/<city>/<stem>_gtFine_labelTrainIds.png``, the
``seg_map_path`` of a ``CityscapesDataset``) and ``pseudo_labels.json``
(see ``mmseg_uda/datasets/pseudo_label_dir.py`` for the layout)::

    python tools/gen_pseudo_labels.py CONFIG CHECKPOINT --work-dir DIR
        [--rule {bdl,fixed,argmax}] [--quantile 0.5] [--cap 0.9]
        [--threshold 0.9] [--batch-size N] [--keep-cache]
        [--launcher {none,pytorch,slurm,mpi}] [--cfg-options KEY=VALUE ...]

Rules: ``bdl`` (default) keeps, per class, the pixels whose confidence
reaches the class's ``--quantile`` (median) confidence over the whole set,
at most ``--cap``; ``fixed`` keeps confidences >= ``--threshold``;
``argmax`` keeps every pixel. Memory does not grow with the number of
images (``bdl`` caches each image's argmax and confidence on disk).

Resumable: every file is written atomically and images already processed
are not run again, so an interrupted run continues with the same command;
a finished directory with the same settings and checkpoint is not
recomputed (another checkpoint or rule replaces its labels).
"""
import argparse

from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from mmseg_uda.datasets.pseudo_label_dir import PseudoLabelDir
from mmseg_uda.datasets.target_set import ranking_dataset_cfg
from mmseg_uda.evaluation.target_set_loop import PSEUDO_LABEL_TEST_CFG
from mmseg_uda.utils import mmengine_checkpoint_globals
from mmseg_uda.utils.checkpoint_identity import checkpoint_identity
from mmseg_uda.utils.tool_config import (add_common_args, build_runner,
                                         check_checkpoint, close_tool_dist,
                                         load_tool_config)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate pseudo-labels of target images (BDL SSL)')
    parser.add_argument('config', help='config of the adapted model')
    parser.add_argument('checkpoint', help='checkpoint of the adapted model')
    parser.add_argument('--rule', choices=['bdl', 'fixed', 'argmax'],
                        default='bdl', help='pseudo-label rule')
    parser.add_argument('--quantile', type=float, default=0.5,
                        help='bdl: class-wise confidence quantile')
    parser.add_argument('--cap', type=float, default=0.9,
                        help='bdl: upper bound of the class thresholds')
    parser.add_argument('--threshold', type=float, default=0.9,
                        help='fixed: confidence threshold')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='images per batch (default: the test loader)')
    parser.add_argument('--keep-cache', action='store_true',
                        help='keep the per-image cache after success')
    add_common_args(
        parser,
        work_dir_help='pseudo-label directory (labels, summary, logs)',
        work_dir_required=True)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args)
    check_checkpoint(cfg, args.checkpoint)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    loader = cfg.get('test_dataloader') or {}
    cfg.test_dataloader = dict(
        batch_size=args.batch_size or loader.get('batch_size', 1),
        num_workers=loader.get('num_workers', 0),
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'),
        dataset=ranking_dataset_cfg(cfg))
    cfg.test_cfg = dict(type='TargetSetLoop',
                        predict_cfg=PSEUDO_LABEL_TEST_CFG)
    # labels of another checkpoint in the same directory are never reused
    cfg.test_evaluator = dict(
        type='PseudoLabelGenerator', out_dir=cfg.work_dir, rule=args.rule,
        quantile=args.quantile, cap=args.cap, threshold=args.threshold,
        keep_cache=args.keep_cache,
        model_id=checkpoint_identity(args.checkpoint))

    runner = build_runner(cfg)  # the model, the checkpoint, the processes
    with mmengine_checkpoint_globals():
        runner.test()
    summary = PseudoLabelDir(cfg.work_dir).read_summary()
    print_log(
        f"pseudo-labels of {summary['num_images']} images in "
        f"{cfg.work_dir}: {100 * summary['labelled_fraction']:.2f}% of the "
        'pixels labelled', logger='current')


if __name__ == '__main__':
    main()
    close_tool_dist()
