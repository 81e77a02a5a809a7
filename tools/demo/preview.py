"""Write a picture of a few demo images of both domains with their labels.

Usage::

    python tools/demo/preview.py data/demo preview.png [--num 4]
        [--split train] [--scale 2]

Each row shows: source image | source label | target image | target label,
labels coloured with the Cityscapes palette.
"""
import argparse
import glob
import os.path as osp
import sys
from typing import List, Optional

import cv2
import numpy as np


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Preview the demo dataset of tools/demo/generate_data.py')
    parser.add_argument('root', help='dataset root (holds source/, target/)')
    parser.add_argument('out', help='output PNG')
    parser.add_argument('--num', type=int, default=4, help='rows')
    parser.add_argument('--split', default='train', help='train or val')
    parser.add_argument(
        '--scale', type=int, default=2, help='nearest-neighbour upscaling')
    return parser.parse_args(argv)


def cityscapes_palette() -> np.ndarray:
    """``(256, 3)`` uint8 RGB lookup table of the Cityscapes trainIds.

    Ids without a colour (including 255) are black.
    """
    from mmseg.datasets import CityscapesDataset
    lut = np.zeros((256, 3), np.uint8)
    palette = CityscapesDataset.METAINFO['palette']
    lut[:len(palette)] = np.asarray(palette, np.uint8)
    return lut


def sample_pairs(root: str, split: str, num: int) -> List[tuple]:
    """The first ``num`` ``(source_img, source_lbl, target_img, target_lbl)``.

    Args:
        root: Dataset root.
        split: Split name.
        num: Number of rows wanted (fewer when a domain has fewer images).

    Returns:
        Tuples of four file paths.
    """
    src = sorted(
        glob.glob(osp.join(root, 'source', 'images', f'{split}_*.png')))
    tgt = sorted(glob.glob(osp.join(
        root, 'target', 'leftImg8bit', split, '*', '*_leftImg8bit.png')))
    rows = []
    for s, t in zip(src[:num], tgt[:num]):
        s_lbl = osp.join(root, 'source', 'labels',
                         osp.basename(s)[:-len('.png')] + '_labelTrainIds.png')
        t_lbl = t.replace(osp.join('target', 'leftImg8bit'),
                          osp.join('target', 'gtFine')).replace(
                              '_leftImg8bit.png', '_gtFine_labelTrainIds.png')
        rows.append((s, s_lbl, t, t_lbl))
    return rows


def make_grid(rows: List[tuple], palette: np.ndarray,
              scale: int = 2) -> np.ndarray:
    """Stack the rows into one BGR picture with 2-pixel white gutters.

    Args:
        rows: Tuples of (image, label, image, label) paths.
        palette: ``(256, 3)`` RGB lookup table of label colours.
        scale: Integer nearest-neighbour upscaling factor.

    Returns:
        The ``uint8`` BGR picture.
    """
    lines = []
    for paths in rows:
        tiles = []
        for i, path in enumerate(paths):
            if i % 2 == 0:
                tile = cv2.imread(path, cv2.IMREAD_COLOR)
            else:
                label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                tile = np.ascontiguousarray(palette[label][..., ::-1])
            if tile is None:
                raise FileNotFoundError(path)
            tile = cv2.resize(tile, None, fx=scale, fy=scale,
                              interpolation=cv2.INTER_NEAREST)
            tiles += [tile, np.full((tile.shape[0], 2, 3), 255, np.uint8)]
        line = np.concatenate(tiles[:-1], axis=1)
        lines += [line, np.full((2, line.shape[1], 3), 255, np.uint8)]
    return np.concatenate(lines[:-1], axis=0)


def main(argv: Optional[List[str]] = None) -> int:
    """Write the preview picture; returns the exit status."""
    args = parse_args(argv)
    rows = sample_pairs(args.root, args.split, args.num)
    if not rows:
        print(f'no {args.split} images of both domains under {args.root}',
              file=sys.stderr)
        return 1
    grid = make_grid(rows, cityscapes_palette(), args.scale)
    if not cv2.imwrite(args.out, grid):
        raise OSError(f'could not write {args.out}')
    print(f'wrote {args.out} ({len(rows)} rows: source image | label | '
          'target image | label)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
