"""Convert SYNTHIA-RAND-CITYSCAPES labels to ``*_labelTrainIds.png``.

Usage::

    python tools/dataset_converters/synthia.py data/synthia [--nproc 8]

Reads ``SYNTHIA_ROOT/GT/LABELS/*.png`` (16-bit PNGs, class id in the red
channel) and writes ``GT/LABELS/<name>_labelTrainIds.png`` next to each input.
Existing outputs are skipped, so the tool can be re-run after an interruption.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Convert SYNTHIA labels to Cityscapes trainIds')
    parser.add_argument(
        'synthia_root', help='SYNTHIA root (holds RGB/, GT/LABELS/)')
    parser.add_argument(
        '--nproc', type=int, default=4, help='number of worker processes')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the conversion; returns the exit status."""
    args = parse_args(argv)
    # imported here: the package loads torch and mmseg, which `--help`
    # does not need
    from mmseg_uda.datasets.label_conversion import (run_cli,
                                                     synthia_to_trainids)
    return run_cli(
        label_dir=osp.join(args.synthia_root, 'GT', 'LABELS'),
        root=args.synthia_root,
        converter=synthia_to_trainids,
        nproc=args.nproc)


if __name__ == '__main__':
    sys.exit(main())
