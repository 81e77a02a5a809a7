"""Generate the two-domain demo street-scene dataset.

Usage::

    python tools/demo/generate_data.py [ROOT] [--seed 0] [--size 128 256]
        [--num-source-train 200] [--num-source-val 50]
        [--num-target-train 200] [--num-target-val 50] [--force]

Writes the flat-coloured "game" source in GTA5 layout under ``ROOT/source``
and the textured, noisy "real" target in Cityscapes layout under
``ROOT/target`` (see :mod:`tools.demo.demo_dataset`). Nothing is written
when ``ROOT/.complete`` records the same parameters.
"""
import argparse
import os.path as osp
import sys
import time
from typing import List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from tools.demo.demo_dataset import (demo_dataset_params,  # noqa: E402
                                     generate_demo_dataset, is_complete)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Generate the two-domain demo street-scene dataset')
    parser.add_argument(
        'root', nargs='?', default='data/demo', help='output root')
    parser.add_argument('--seed', type=int, default=0, help='generator seed')
    parser.add_argument(
        '--size', type=int, nargs=2, default=[128, 256], metavar=('H', 'W'),
        help='image height and width')
    for name, default in (('source-train', 200), ('source-val', 50),
                          ('target-train', 200), ('target-val', 50)):
        parser.add_argument(
            f'--num-{name}', type=int, default=default,
            help=f'number of {name.replace("-", " ")} images')
    parser.add_argument(
        '--force', action='store_true',
        help='regenerate even when the dataset is already complete')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Generate the dataset (unless complete) and print what was written.

    Args:
        argv: Command line arguments without the program name; ``None``
            reads ``sys.argv``.

    Returns:
        The exit status (0).
    """
    args = parse_args(argv)
    counts = dict(
        num_source_train=args.num_source_train,
        num_source_val=args.num_source_val,
        num_target_train=args.num_target_train,
        num_target_val=args.num_target_val)
    if any(n < 0 for n in counts.values()):
        raise SystemExit('image counts must not be negative')
    params = demo_dataset_params(size=args.size, seed=args.seed, **counts)
    if not args.force and is_complete(args.root, params):
        marker = osp.join(args.root, '.complete')
        print(f'{args.root} is already complete ({marker} holds the same '
              'parameters); nothing to do')
        return 0

    from mmengine.utils import ProgressBar
    start = time.time()
    bar = ProgressBar(sum(counts.values()))
    generate_demo_dataset(
        args.root, size=args.size, seed=args.seed, progress=bar.update,
        force=True, **counts)
    h, w = args.size
    print(f'\nwrote the demo dataset ({h}x{w}, seed {args.seed}) to '
          f'{args.root} in {time.time() - start:.1f}s:')
    print(f'  source (GTA5 layout): {args.num_source_train} train + '
          f'{args.num_source_val} val images in '
          f'{osp.join(args.root, "source", "images")}, labels in '
          f'{osp.join(args.root, "source", "labels")}, splits '
          'train.txt / val.txt')
    print(f'  target (Cityscapes layout): {args.num_target_train} train + '
          f'{args.num_target_val} val images in '
          f'{osp.join(args.root, "target", "leftImg8bit")}, labels in '
          f'{osp.join(args.root, "target", "gtFine")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
