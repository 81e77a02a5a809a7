"""Writing the demo dataset: the source in GTA5 layout, the target in
Cityscapes layout, seeded and atomic, skipped when already complete."""
import contextlib
import json
import os
import os.path as osp
import re
import zlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmseg_uda.datasets.class_stats import (SAMPLE_CLASS_STATS,
                                            SAMPLES_WITH_CLASS,
                                            collect_class_stats,
                                            write_class_stats)
from mmseg_uda.utils.atomic_io import atomic_write_bytes, atomic_write_png
from .street_layout import check_size, sample_layout
from .street_rendering import render_source, render_target

DOMAINS: Tuple[str, ...] = ('source', 'target')
CITY = 'democity'
MARKER = '.complete'
# Stored in the marker: bump it whenever layouts or rendering change so that
# existing demo data is regenerated.
GENERATOR_VERSION = 1


def sample_paths(root: str, domain: str, split: str,
                 index: int) -> Tuple[str, str]:
    """Image and label path of one sample.

    Args:
        root: Dataset root.
        domain: ``'source'`` (GTA5 layout) or ``'target'`` (Cityscapes).
        split: Split name, e.g. ``'train'`` or ``'val'``.
        index: Sample index within the split.

    Returns:
        ``(image_path, label_path)``.
    """
    if domain == 'source':
        name = f'{split}_{index:05d}'
        return (osp.join(root, 'source', 'images', f'{name}.png'),
                osp.join(root, 'source', 'labels',
                         f'{name}_labelTrainIds.png'))
    if domain == 'target':
        stem = osp.join(split, CITY, f'{CITY}_{index:06d}_000019')
        return (osp.join(root, 'target', 'leftImg8bit',
                         f'{stem}_leftImg8bit.png'),
                osp.join(root, 'target', 'gtFine',
                         f'{stem}_gtFine_labelTrainIds.png'))
    raise ValueError(f'domain must be one of {DOMAINS}, got {domain!r}')


def sample_rngs(seed: int, domain: str, split: str,
                index: int) -> Tuple[np.random.Generator, np.random.Generator]:
    """Independent layout and render generators of one sample.

    Every ``(seed, domain, split, index)`` gets its own stream, so the
    domains (and splits) show different scenes and a sample does not depend
    on how many others are generated.
    """
    key = (zlib.crc32(domain.encode()), zlib.crc32(split.encode()), index)
    seq = np.random.SeedSequence(seed, spawn_key=key)
    return tuple(np.random.default_rng(s) for s in seq.spawn(2))


def render_sample(seed: int, domain: str, split: str, index: int,
                  size: Sequence[int] = (128, 256)
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """The RGB image and label map that :func:`generate_split` writes."""
    if domain not in DOMAINS:
        raise ValueError(f'domain must be one of {DOMAINS}, got {domain!r}')
    layout_rng, render_rng = sample_rngs(seed, domain, split, index)
    layout = sample_layout(layout_rng, size)
    render = render_source if domain == 'source' else render_target
    return render(layout, render_rng), layout.label


def _remove_stale(root: str, domain: str, split: str, keep: set) -> None:
    """Delete generated files of a split (and temporaries) not in ``keep``."""
    if domain == 'source':
        pattern = rf'{re.escape(split)}_\d{{5}}(_labelTrainIds)?\.png'
    else:
        pattern = rf'{CITY}_\d{{6}}_000019_(leftImg8bit|gtFine_labelTrainIds)'
        pattern += r'\.png'
    for directory in {osp.dirname(p)
                      for p in sample_paths(root, domain, split, 0)}:
        if not osp.isdir(directory):
            continue
        for name in os.listdir(directory):
            path = osp.join(directory, name)
            leftover = name.startswith('.') and name.endswith('.tmp')
            if path not in keep and (leftover
                                     or re.fullmatch(pattern, name)):
                os.remove(path)


def generate_split(root: str, domain: str, split: str, num_images: int,
                   size: Sequence[int] = (128, 256), seed: int = 0,
                   progress: Optional[Callable[[], None]] = None
                   ) -> List[Tuple[str, str]]:
    """Write one split of one domain, replacing earlier files of it.

    Images are 8-bit BGR PNGs, labels 8-bit single-channel PNGs; every file
    is written atomically. Source splits also get ``ROOT/source/{split}.txt``
    listing the sample names (basenames without extension).

    Args:
        root: Dataset root.
        domain: ``'source'`` or ``'target'``.
        split: Split name.
        num_images: Number of samples.
        size: ``(H, W)``.
        seed: Base seed (see :func:`sample_rngs`).
        progress: Called after each written sample.

    Returns:
        ``(image_path, label_path)`` of each sample.
    """
    if domain not in DOMAINS:
        raise ValueError(f'domain must be one of {DOMAINS}, got {domain!r}')
    size = check_size(size)
    paths = [sample_paths(root, domain, split, i) for i in range(num_images)]
    _remove_stale(root, domain, split, {p for pair in paths for p in pair})
    for i, (img_path, label_path) in enumerate(paths):
        img, label = render_sample(seed, domain, split, i, size)
        atomic_write_png(img_path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        atomic_write_png(label_path, label)
        if progress is not None:
            progress()
    if domain == 'source':
        names = [osp.splitext(osp.basename(p[0]))[0] + '\n' for p in paths]
        atomic_write_bytes(osp.join(root, 'source', f'{split}.txt'),
                           ''.join(names).encode())
    return paths


def write_source_class_stats(root: str) -> None:
    """Write the class statistics of the source training split (for rare
    class sampling) into ``ROOT/source``, as the GTA5 converter does for
    GTA5."""
    source = osp.join(root, 'source')
    with open(osp.join(source, 'train.txt')) as f:
        names = [line.strip() for line in f if line.strip()]
    files = [osp.join(source, 'labels', f'{name}_labelTrainIds.png')
             for name in names]
    stats = collect_class_stats(files)
    for entry in stats:  # paths relative to the root: the set can move
        entry['file'] = osp.relpath(entry['file'], source)
    write_class_stats(source, stats)


def demo_dataset_params(num_source_train: int = 200,
                        num_source_val: int = 50,
                        num_target_train: int = 200,
                        num_target_val: int = 50,
                        size: Sequence[int] = (128, 256),
                        seed: int = 0) -> Dict:
    """The parameters recorded in ``ROOT/.complete`` (JSON-able)."""
    return dict(generator_version=GENERATOR_VERSION, seed=int(seed),
                size=list(check_size(size)),
                num_source_train=int(num_source_train),
                num_source_val=int(num_source_val),
                num_target_train=int(num_target_train),
                num_target_val=int(num_target_val))


def is_complete(root: str, params: Dict) -> bool:
    """Whether ``ROOT/.complete`` records exactly ``params``."""
    try:
        with open(osp.join(root, MARKER)) as f:
            return json.load(f) == params
    except (OSError, ValueError):
        return False


def generate_demo_dataset(root: str, num_source_train: int = 200,
                          num_source_val: int = 50,
                          num_target_train: int = 200,
                          num_target_val: int = 50,
                          size: Sequence[int] = (128, 256), seed: int = 0,
                          progress: Optional[Callable[[], None]] = None,
                          force: bool = False) -> bool:
    """Write the two-domain demo dataset unless it is already complete.

    Layout under ``root`` (``.complete`` is written last)::

        source/images/{split}_{i:05d}.png
        source/labels/{split}_{i:05d}_labelTrainIds.png
        source/train.txt, source/val.txt
        target/leftImg8bit/{split}/democity/{stem}_leftImg8bit.png
        target/gtFine/{split}/democity/{stem}_gtFine_labelTrainIds.png
        .complete

    where ``stem`` is ``democity_{i:06d}_000019``.

    Args:
        root: Dataset root.
        num_source_train: Source training images.
        num_source_val: Source validation images.
        num_target_train: Target training images.
        num_target_val: Target validation images.
        size: ``(H, W)`` of every image.
        seed: Base seed; the same seed gives byte-identical files.
        progress: Called after each written sample.
        force: Regenerate even when the marker records the same parameters.

    Returns:
        ``True`` when files were written, ``False`` when the dataset was
        already complete.
    """
    params = demo_dataset_params(num_source_train, num_source_val,
                                 num_target_train, num_target_val, size, seed)
    if not force and is_complete(root, params):
        # a set made before the statistics existed gets them now
        if not all(osp.isfile(osp.join(root, 'source', name))
                   for name in (SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS)):
            write_source_class_stats(root)
        return False
    with contextlib.suppress(FileNotFoundError):
        os.remove(osp.join(root, MARKER))
    for domain, split, num in (('source', 'train', num_source_train),
                               ('source', 'val', num_source_val),
                               ('target', 'train', num_target_train),
                               ('target', 'val', num_target_val)):
        generate_split(root, domain, split, num, size, seed, progress)
    write_source_class_stats(root)
    data = json.dumps(params, indent=2, sort_keys=True) + '\n'
    atomic_write_bytes(osp.join(root, MARKER), data.encode())
    return True
