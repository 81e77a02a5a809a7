"""Write the class statistics of a set whose trainId labels exist already.

Usage::

    python tools/dataset_converters/class_stats.py ROOT \
        [--label-dir labels] [--suffix _labelTrainIds.png] [--nproc 4]

Counts the pixels per class of every ``ROOT/LABEL_DIR/**/*SUFFIX`` file (full
size, 255 ignored) and writes ``ROOT/sample_class_stats.json`` and
``ROOT/samples_with_class.json`` (DAFormer's names and layout), which rare
class sampling (``train_dataloader.dataset.rare_class_sampling``) reads. The
GTA5 and SYNTHIA converters write them while converting; this tool is for
sets converted otherwise. Re-running it rewrites both files atomically.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Count pixels per class of trainId labels for rare '
        'class sampling')
    parser.add_argument('root', help='dataset root (the statistics go here)')
    parser.add_argument(
        '--label-dir', default='labels',
        help='label directory relative to ROOT (default: labels)')
    parser.add_argument(
        '--suffix', default='_labelTrainIds.png',
        help='label file suffix (default: _labelTrainIds.png)')
    parser.add_argument(
        '--nproc', type=int, default=4, help='number of worker processes')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Count and write the statistics; returns the exit status."""
    args = parse_args(argv)
    from mmengine.utils import scandir

    from mmseg_uda.datasets.class_stats import (collect_class_stats,
                                                write_class_stats)
    label_dir = osp.join(args.root, args.label_dir)
    try:
        if not osp.isdir(label_dir):
            raise FileNotFoundError(
                f'label directory not found: {label_dir!r}')
        files = sorted(
            osp.join(label_dir, f)
            for f in scandir(label_dir, suffix=args.suffix, recursive=True))
        if not files:
            raise FileNotFoundError(
                f'no label file ending in {args.suffix!r} in {label_dir!r}')
        stats = collect_class_stats(files, args.nproc)
        write_class_stats(args.root, stats)
    except (OSError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(f'class statistics of {len(stats)} labels written to {args.root}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
