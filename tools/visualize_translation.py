"""Draw what a trained image translator does to a few source images::

    python tools/visualize_translation.py CONFIG CHECKPOINT --out OUT.png
        [--num 4] [--width 512] [--cfg-options KEY=VALUE ...]

One row per source image (the first ``--num`` of the config's source
training set, resized to ``--width`` keeping the aspect ratio): source |
translated | reconstructed, then the frozen perceptual segmentor's
segmentation of each (Cityscapes palette), with titles. The perceptual
segmentor of the config (``model.perceptual_segmentor``) must exist. The
PNG is written atomically.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmseg.datasets import CityscapesDataset
from mmseg.registry import MODELS

import mmseg_uda.models.translators  # noqa: F401
from mmseg_uda.utils import mmengine_checkpoint_globals
from mmseg_uda.utils.atomic_io import atomic_write_png

HERE = osp.dirname(osp.abspath(__file__))
sys.path[:0] = [p for p in (osp.dirname(HERE), HERE) if p not in sys.path]
from tools.demo.report import colorize  # noqa: E402
from translate_source import (list_images, source_dataset_cfg,  # noqa: E402
                              to_bgr_uint8, to_unit_rgb)

COLUMNS = ('source', 'translated', 'reconstructed')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw source / translated / reconstructed images')
    parser.add_argument('config', help='config of the translator')
    parser.add_argument('checkpoint', help='checkpoint of the translator')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--num', type=int, default=4,
                        help='number of source images')
    parser.add_argument('--width', type=int, default=512,
                        help='width the images are resized to')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config (key=value)')
    return parser.parse_args(argv)


def titled(img: np.ndarray, title: str) -> np.ndarray:
    """A white title bar above a BGR panel."""
    bar = np.full((20, img.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(bar, title, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, img], axis=0)


def grid(rows: List[List[tuple]], gap: int = 4) -> np.ndarray:
    """Rows of (title, BGR panel) joined with white gaps."""
    lines = []
    for row in rows:
        panels = [titled(img, title) for title, img in row]
        white = np.full((panels[0].shape[0], gap, 3), 255, np.uint8)
        joined = []
        for panel in panels:
            joined += [panel, white]
        lines.append(np.concatenate(joined[:-1], axis=1))
        lines.append(np.full((gap, lines[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(lines[:-1], axis=0)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if not cfg.model.get('perceptual_segmentor'):
        raise KeyError(f'{args.config}: model.perceptual_segmentor is '
                       'needed to draw segmentations')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    img_dir, names, _ = list_images(source_dataset_cfg(cfg))
    if not names:
        raise FileNotFoundError(f'no source images in {img_dir}')
    model = MODELS.build(cfg.model)
    with mmengine_checkpoint_globals():
        load_checkpoint(model, args.checkpoint, map_location='cpu',
                        strict=True)
    model.eval()
    palette = CityscapesDataset.METAINFO['palette']
    rows = []
    for name in names[:max(1, args.num)]:
        img = cv2.imread(osp.join(img_dir, name), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'cannot read {osp.join(img_dir, name)}')
        height = max(4, round(img.shape[0] * args.width / img.shape[1]))
        img = cv2.resize(img, (args.width, height),
                         interpolation=cv2.INTER_CUBIC)
        with torch.no_grad():
            pics = model.translation_pictures(to_unit_rgb(img)[None])
        keys = ('input', 'translated', 'reconstructed')
        row = [(f'{title}: {name}' if title == 'source' else title,
                to_bgr_uint8(pics['images'][key][0]))
               for title, key in zip(COLUMNS, keys)]
        row += [(f'seg({title})',
                 colorize(pics['predictions'][key][0].numpy(), palette))
                for title, key in zip(COLUMNS, keys)]
        rows.append(row)
    atomic_write_png(args.out, grid(rows))
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
