"""Offline conversion of source-domain label PNGs to ``*_labelTrainIds.png``.

Shared by ``tools/dataset_converters/gta.py`` and
``tools/dataset_converters/synthia.py``. Each output is written to a hidden
temporary file in the destination directory and moved into place with
:func:`os.replace`, so an interrupted run never leaves a half-written label;
outputs that already exist are skipped, so re-runs only do the missing work.

The converters also write the class statistics of the converted set
(``sample_class_stats.json``, ``samples_with_class.json``, see
:mod:`mmseg_uda.datasets.class_stats`) into the dataset root, as DAFormer's
converters do; skipped files are counted from their existing outputs, so the
statistics of a re-run cover every file.
"""
import functools
import os
import os.path as osp
import sys
from contextlib import nullcontext
from multiprocessing import Pool
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from mmseg_uda.utils.atomic_io import atomic_write_png
from .class_stats import (SampleStats, sample_class_stats, stats_of_file,
                          write_class_stats)
from .label_maps import convert_gta_label, convert_synthia_label

TRAINID_SUFFIX = '_labelTrainIds.png'


class LabelConversionError(RuntimeError):
    """Raised when an input label file cannot be read or converted."""


def read_gta_label(path: str) -> np.ndarray:
    """Read a GTA5 label (8-bit palette PNG) as its palette indices.

    PIL is used on purpose: OpenCV would expand the palette to colours.

    Args:
        path (str): Label file.

    Returns:
        np.ndarray: HxW array of Cityscapes labelIds.
    """
    with Image.open(path) as img:
        if img.mode not in ('P', 'L', 'I', 'I;16'):
            raise ValueError(f'expected a single-channel (palette) PNG, got '
                             f'PIL mode {img.mode!r}')
        return np.asarray(img)


def read_synthia_label(path: str) -> np.ndarray:
    """Read the class-id channel of a SYNTHIA ``GT/LABELS`` 16-bit PNG.

    Args:
        path (str): Label file.

    Returns:
        np.ndarray: HxW array of SYNTHIA class ids (the red channel).
    """
    arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError('OpenCV could not decode the file')
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise ValueError(f'expected a 3-channel PNG, got shape {arr.shape}')
    return arr[:, :, 2]  # OpenCV returns BGR(A): index 2 is red


def gta_to_trainids(path: str) -> np.ndarray:
    """Read a GTA5 label file and return its trainIds (``uint8``)."""
    return convert_gta_label(read_gta_label(path))


def synthia_to_trainids(path: str) -> np.ndarray:
    """Read a SYNTHIA label file and return its trainIds (``uint8``)."""
    return convert_synthia_label(read_synthia_label(path))


def convert_one(task: Tuple[str, str],
                converter: Callable[[str], np.ndarray]) -> bool:
    """Convert one label file unless its output exists already.

    Args:
        task (tuple[str, str]): ``(src, dst)`` paths.
        converter (Callable[[str], np.ndarray]): Reads ``src`` and returns the
            ``uint8`` trainId map.

    Returns:
        bool: ``True`` if ``dst`` was written, ``False`` if it was skipped.

    Raises:
        LabelConversionError: Naming ``src`` when it cannot be converted.
    """
    src, dst = task
    if osp.exists(dst):
        return False
    _convert(src, dst, converter)
    return True


def _convert(src: str, dst: str,
             converter: Callable[[str], np.ndarray]) -> np.ndarray:
    """Convert ``src``, write ``dst`` atomically and return the trainIds."""
    try:
        out = converter(src)
    except Exception as exc:
        raise LabelConversionError(
            f'cannot convert label file {src!r}: {type(exc).__name__}: {exc}'
        ) from exc
    atomic_write_png(dst, out)
    return out


def convert_and_count(task: Tuple[str, str],
                      converter: Callable[[str], np.ndarray]
                      ) -> Tuple[bool, SampleStats]:
    """Convert one label file unless done, and count its classes.

    Args:
        task (tuple[str, str]): ``(src, dst)`` paths.
        converter (Callable[[str], np.ndarray]): See :func:`convert_one`.

    Returns:
        tuple[bool, dict]: Whether ``dst`` was written, and its
        ``sample_class_stats.json`` entry (counted on the converted array,
        or read back from ``dst`` when it existed already).
    """
    src, dst = task
    if osp.exists(dst):
        return False, stats_of_file(dst)
    return True, sample_class_stats(_convert(src, dst, converter), dst)


def list_label_tasks(label_dir: str) -> List[Tuple[str, str]]:
    """List ``(src, dst)`` pairs for every raw label PNG in ``label_dir``.

    Files already ending in ``_labelTrainIds.png`` and hidden files are not
    inputs.

    Args:
        label_dir (str): Directory holding the original label PNGs.

    Returns:
        list[tuple[str, str]]: Sorted ``(src, dst)`` pairs.

    Raises:
        FileNotFoundError: If ``label_dir`` is missing or has no input PNG.
    """
    if not osp.isdir(label_dir):
        raise FileNotFoundError(f'label directory not found: {label_dir!r}')
    tasks = []
    for name in sorted(os.listdir(label_dir)):
        if (not name.endswith('.png') or name.endswith(TRAINID_SUFFIX)
                or name.startswith('.')):
            continue
        dst = osp.join(label_dir, name[:-len('.png')] + TRAINID_SUFFIX)
        tasks.append((osp.join(label_dir, name), dst))
    if not tasks:
        raise FileNotFoundError(
            f'no input label files (*.png) found in {label_dir!r}')
    return tasks


def convert_label_dir(label_dir: str,
                      converter: Callable[[str], np.ndarray],
                      nproc: int = 4,
                      stats_dir: Optional[str] = None) -> Tuple[int, int]:
    """Convert every raw label PNG of ``label_dir`` in parallel.

    Args:
        label_dir (str): Directory holding the original label PNGs; outputs
            are written next to them.
        converter (Callable[[str], np.ndarray]): Picklable function reading
            one file and returning its ``uint8`` trainIds, e.g.
            :func:`gta_to_trainids`.
        nproc (int): Number of worker processes (1 runs in-process).
        stats_dir (str, optional): Where to write the class statistics of
            all outputs (converted now or before); None writes none.

    Returns:
        tuple[int, int]: Number of files converted and skipped.

    Raises:
        FileNotFoundError: If ``label_dir`` is missing or empty.
        LabelConversionError: Naming the first input that failed.
    """
    from mmengine.utils import ProgressBar

    if nproc < 1:
        raise ValueError(f'nproc must be >= 1, got {nproc}')
    all_tasks = list_label_tasks(label_dir)
    done = sum(osp.exists(dst) for _, dst in all_tasks)
    print(f'{len(all_tasks)} label files in {label_dir}: {done} already '
          f'converted, {len(all_tasks) - done} to convert')
    # the statistics need every output, also those of an earlier run
    tasks = all_tasks if stats_dir is not None else [
        task for task in all_tasks if not osp.exists(task[1])
    ]
    converted, stats = 0, []
    if tasks:
        func = functools.partial(convert_and_count, converter=converter)
        bar = ProgressBar(len(tasks), file=sys.stdout)
        workers = Pool(min(nproc, len(tasks))) if nproc > 1 else nullcontext()
        try:
            with workers as pool:
                results = map(func, tasks) if pool is None else pool.imap(
                    func, tasks, chunksize=8)
                for written, entry in results:
                    converted += int(written)
                    stats.append(entry)
                    bar.update()
        finally:
            sys.stdout.write('\n')
            sys.stdout.flush()
    if stats_dir is not None:
        write_class_stats(stats_dir, stats)
        print(f'class statistics of {len(stats)} labels written to '
              f'{stats_dir}')
    return converted, len(all_tasks) - converted


def run_cli(label_dir: str, root: str, converter: Callable[[str], np.ndarray],
            nproc: int) -> int:
    """Shared body of the converter CLIs.

    Args:
        label_dir (str): Directory with the raw labels.
        root (str): Dataset root given on the command line (checked first).
        converter (Callable[[str], np.ndarray]): See :func:`convert_label_dir`.
        nproc (int): Number of worker processes.

    Returns:
        int: Process exit status (0 on success, 1 on error, the error being
        printed to stderr).
    """
    try:
        if not osp.isdir(root):
            raise FileNotFoundError(f'dataset root not found: {root!r}')
        converted, skipped = convert_label_dir(
            label_dir, converter, nproc, stats_dir=root)
    except (OSError, LabelConversionError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(f'done: {converted} converted, {skipped} skipped')
    return 0


__all__: Sequence[str] = [
    'LabelConversionError', 'TRAINID_SUFFIX', 'read_gta_label',
    'read_synthia_label', 'gta_to_trainids', 'synthia_to_trainids',
    'convert_one', 'convert_and_count', 'list_label_tasks',
    'convert_label_dir', 'run_cli'
]
