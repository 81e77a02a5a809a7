"""Tiny on-disk dataset layouts (GTA5, Cityscapes) for tool tests."""
import os
import os.path as osp

import cv2
import numpy as np


def _write(path: str, array: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, array), path


def _sample(rng: np.random.Generator, h: int, w: int):
    label = rng.integers(0, 19, size=(h, w), dtype=np.uint8)
    label[rng.random((h, w)) < 0.05] = 255
    img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return img, label


def make_gta(root: str, num: int = 3, size=(36, 64), seed: int = 0) -> None:
    """GTA5 layout with converted labels: images/, labels/*_labelTrainIds."""
    rng = np.random.default_rng(seed)
    for i in range(num):
        img, label = _sample(rng, *size)
        _write(osp.join(root, 'images', f'{i:05d}.png'), img)
        _write(osp.join(root, 'labels', f'{i:05d}_labelTrainIds.png'), label)


def make_cityscapes(root: str, split: str = 'val', num: int = 2,
                    size=(32, 64), seed: int = 1) -> None:
    """Cityscapes layout: leftImg8bit/<split>/<city>, gtFine/<split>/<city>."""
    rng = np.random.default_rng(seed)
    for i in range(num):
        img, label = _sample(rng, *size)
        stem = f'tiny_{i:06d}_000019'
        _write(osp.join(root, 'leftImg8bit', split, 'tiny',
                        f'{stem}_leftImg8bit.png'), img)
        _write(osp.join(root, 'gtFine', split, 'tiny',
                        f'{stem}_gtFine_labelTrainIds.png'), label)
