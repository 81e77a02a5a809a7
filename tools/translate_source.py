"""Translate every source training image with a trained image translator.

BDL trains the segmentor of the next round on GTA5 images translated to the
Cityscapes style. This tool runs the ``source_to_target`` generator of a
``CycleGANTranslator`` checkpoint on every image of the config's source
training dataset (``train_dataloader.dataset.source``), whole images, not
crops (the generator is fully convolutional: images are padded to a
multiple of 4 and cropped back), and writes them under ``DIR/images`` with
the same relative file names (PNG or JPG as the original name says)::

    python tools/translate_source.py CONFIG CHECKPOINT --out DIR
        [--batch-size N] [--scale W H] [--launcher {none,pytorch,...}]
        [--cfg-options KEY=VALUE ...]

``--scale W H`` resizes the images (bicubic) before translating them and
writes the translations at that size; without it they keep the source size.
Every file is written atomically, existing outputs are skipped (an
interrupted run restarts with the same command), each rank of a
distributed run translates its own share, and ``DIR/translation.json``
(config, checkpoint, source image and label dirs, image count) is written
last, once every image exists.

Labels are untouched: train on the translated set with the original label
directory, e.g. for GTA5::

    source_train_dataset = dict(
        type='GTAVDataset', data_root='',
        data_prefix=dict(img_path='DIR/images',
                         seg_map_path='data/gta/labels'), ...)
"""
import argparse
import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS, MODELS

import mmseg_uda.models.translators  # noqa: F401
from mmseg_uda.utils import mmengine_checkpoint_globals
from mmseg_uda.utils.atomic_io import atomic_write_bytes, atomic_write_text
from mmseg_uda.utils.tool_config import (add_common_args, close_tool_dist,
                                         init_tool_dist, load_tool_config,
                                         require_file)

RUN_FILE = '.run.json'
SUMMARY = 'translation.json'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Translate the source training images (BDL)')
    parser.add_argument('config', help='config of the translator')
    parser.add_argument('checkpoint', help='checkpoint of the translator')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per forward pass')
    parser.add_argument('--scale', type=int, nargs=2, metavar=('W', 'H'),
                        default=None,
                        help='resize to W H first (default: keep the size)')
    add_common_args(parser)
    return parser.parse_args(argv)


def source_dataset_cfg(cfg) -> dict:
    """The source training dataset of a translator config."""
    try:
        dataset = cfg.train_dataloader.dataset.source
    except AttributeError:
        raise KeyError(f'{cfg.filename} has no '
                       'train_dataloader.dataset.source') from None
    dataset = dataset.copy()
    dataset['pipeline'] = []
    return dataset


def list_images(dataset_cfg: dict) -> Tuple[str, List[str], Optional[str]]:
    """Image dir, relative image names (sorted) and label dir."""
    dataset = DATASETS.build(dataset_cfg)
    img_dir = dataset.data_prefix['img_path']
    names = sorted(
        osp.relpath(info['img_path'], img_dir)
        for info in dataset.load_data_list())
    return img_dir, names, dataset.data_prefix.get('seg_map_path')


def load_translator(cfg, checkpoint: str) -> torch.nn.Module:
    """The translator of ``cfg`` without its perceptual segmentor."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = cfg.model.copy()
    model_cfg['perceptual_segmentor'] = None  # not needed to translate
    model = MODELS.build(model_cfg)
    with mmengine_checkpoint_globals():
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.eval()


def to_unit_rgb(img: np.ndarray) -> torch.Tensor:
    """HxWx3 BGR uint8 -> 3xHxW RGB float in [-1, 1]."""
    rgb = np.ascontiguousarray(img[..., ::-1]).astype(np.float32)
    return torch.from_numpy(rgb).permute(2, 0, 1) / 127.5 - 1.0


def to_bgr_uint8(img: torch.Tensor) -> np.ndarray:
    """3xHxW RGB in [-1, 1] -> HxWx3 BGR uint8."""
    arr = ((img.clamp(-1, 1) + 1.0) * 127.5).round().byte()
    return np.ascontiguousarray(arr.permute(1, 2, 0).cpu().numpy()[..., ::-1])


def write_image(path: str, img: np.ndarray) -> None:
    """Encode by the file's extension and write atomically."""
    ext = osp.splitext(path)[1] or '.png'
    ok, buf = cv2.imencode(ext, img)
    if not ok:
        raise OSError(f'cannot encode {path}')
    atomic_write_bytes(path, buf.tobytes())


def read_image(path: str, scale: Optional[Sequence[int]]) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read source image {path}')
    if scale is not None:
        img = cv2.resize(img, tuple(scale), interpolation=cv2.INTER_CUBIC)
    return img


@torch.no_grad()
def translate_batch(model: torch.nn.Module, images: List[np.ndarray],
                    device: torch.device) -> List[np.ndarray]:
    """Translate images, batching those of the same size together."""
    out: List[Optional[np.ndarray]] = [None] * len(images)
    by_shape: dict = {}
    for i, img in enumerate(images):
        by_shape.setdefault(img.shape, []).append(i)
    for idx in by_shape.values():
        batch = torch.stack([to_unit_rgb(images[i]) for i in idx])
        fakes = model.translate(batch.to(device), 'source_to_target')
        for i, fake in zip(idx, fakes):
            out[i] = to_bgr_uint8(fake)
    return out


def check_same_run(args: argparse.Namespace, rank: int) -> None:
    """Refuse to mix translations of different checkpoints or scales.

    The first run records what it translates with in ``OUT/.run.json``;
    a later run into the same ``--out`` must use the same checkpoint (path,
    size and time) and ``--scale``, otherwise existing images would be
    skipped as done although another model made them.

    Raises:
        ValueError: If ``--out`` holds translations of another run.
    """
    stat = os.stat(args.checkpoint)
    run = dict(checkpoint=osp.abspath(args.checkpoint), size=stat.st_size,
               mtime_ns=stat.st_mtime_ns,
               scale=list(args.scale) if args.scale else None)
    path = osp.join(args.out, RUN_FILE)
    if osp.isfile(path):
        with open(path) as f:
            before = json.load(f)
        if before != run:
            raise ValueError(
                f'{args.out} holds translations made with {before}, not '
                f'{run}: give a new --out or remove it')
    elif rank == 0:
        atomic_write_text(path, json.dumps(run, indent=2) + '\n')
    if torch_dist.is_initialized():
        torch_dist.barrier()


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    require_file(args.checkpoint, 'checkpoint')
    if args.batch_size < 1:
        raise ValueError(f'--batch-size must be >= 1, got {args.batch_size}')
    cfg = load_tool_config(args)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    img_dir, names, label_dir = list_images(source_dataset_cfg(cfg))
    if not names:
        raise FileNotFoundError(f'no source images in {img_dir}')
    out_dir = osp.join(args.out, 'images')

    rank, world = init_tool_dist(cfg)
    device = torch.device(
        f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}'
        if torch.cuda.is_available() else 'cpu')

    check_same_run(args, rank)
    mine = names[rank::world]
    todo = [n for n in mine if not osp.isfile(osp.join(out_dir, n))]
    print_log(f'rank {rank}: {len(mine)} images, {len(mine) - len(todo)} '
              f'already translated in {out_dir}', logger='current')
    if todo:
        model = load_translator(cfg, args.checkpoint).to(device)
        bar = ProgressBar(len(todo)) if rank == 0 else None
        for start in range(0, len(todo), args.batch_size):
            chunk = todo[start:start + args.batch_size]
            images = [read_image(osp.join(img_dir, n), args.scale)
                      for n in chunk]
            for name, fake in zip(chunk,
                                  translate_batch(model, images, device)):
                write_image(osp.join(out_dir, name), fake)
                if bar is not None:
                    bar.update()
    if torch_dist.is_initialized():
        torch_dist.barrier()
    if rank == 0:
        missing = [n for n in names if not osp.isfile(osp.join(out_dir, n))]
        if missing:
            raise RuntimeError(f'{len(missing)} translations missing, e.g. '
                               f'{missing[0]}')
        summary = dict(
            config=osp.abspath(args.config),
            checkpoint=osp.abspath(args.checkpoint),
            source_img_dir=osp.abspath(img_dir),
            source_label_dir=osp.abspath(label_dir) if label_dir else None,
            translated_img_dir=osp.abspath(out_dir),
            scale=list(args.scale) if args.scale else None,
            count=len(names))
        atomic_write_text(osp.join(args.out, SUMMARY),
                          json.dumps(summary, indent=2) + '\n')
        print_log(f'{len(names)} translated images in {out_dir}',
                  logger='current')


if __name__ == '__main__':
    main()
    close_tool_dist()
