"""Convert GTA5 labels (Cityscapes labelIds) to ``*_labelTrainIds.png``.

Usage::

    python tools/dataset_converters/gta.py data/gta [--nproc 8]

Reads ``GTA_ROOT/labels/*.png`` (8-bit palette PNGs) and writes
``GTA_ROOT/labels/<name>_labelTrainIds.png`` next to each input. Existing
outputs are skipped, so the tool can be re-run after an interruption.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Convert GTA5 labels to Cityscapes trainIds')
    parser.add_argument('gta_root', help='GTA5 root (holds images/, labels/)')
    parser.add_argument(
        '--nproc', type=int, default=4, help='number of worker processes')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the conversion; returns the exit status."""
    args = parse_args(argv)
    # imported here: the package loads torch and mmseg, which `--help`
    # does not need
    from mmseg_uda.datasets.label_conversion import gta_to_trainids, run_cli
    return run_cli(
        label_dir=osp.join(args.gta_root, 'labels'),
        root=args.gta_root,
        converter=gta_to_trainids,
        nproc=args.nproc)


if __name__ == '__main__':
    sys.exit(main())
