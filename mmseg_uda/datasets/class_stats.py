"""Per-image class statistics of a source set, as DAFormer writes them.

Rare class sampling (:mod:`mmseg_uda.datasets.rare_class_sampling`) reads two
JSON files from the source dataset's root, with DAFormer's names and layout:

- ``sample_class_stats.json``: one entry per label file, in file order,
  ``{"<class>": <pixels>, ..., "file": "<path of the trainId label>"}``, with
  only the classes present (ascending class id);
- ``samples_with_class.json``: ``{"<class>": [["<file>", <pixels>], ...]}``,
  every file holding at least one pixel of the class.

Both are counted on the full-size trainId labels (ignore index 255 is not a
class) and written atomically, so a reader never sees half a file.
"""
import json
import os.path as osp
import sys
from multiprocessing import Pool
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np

from mmseg_uda.utils.atomic_io import atomic_write_text

SAMPLE_CLASS_STATS = 'sample_class_stats.json'
SAMPLES_WITH_CLASS = 'samples_with_class.json'
IGNORE_INDEX = 255

SampleStats = Dict[Union[int, str], Union[int, str]]
SamplesWithClass = Dict[int, List[Tuple[str, int]]]


class ClassStatsError(ValueError):
    """Raised when a statistics file is missing, unreadable or malformed."""


def count_class_pixels(label: np.ndarray,
                       ignore_index: int = IGNORE_INDEX) -> Dict[int, int]:
    """Pixels per class of one trainId label.

    Args:
        label (np.ndarray): HxW integer label map.
        ignore_index (int): Value that is not a class. Defaults to 255.

    Returns:
        dict[int, int]: ``{class: pixels}`` for every class present, in
        ascending class order (the order DAFormer's converters write).
    """
    label = np.asarray(label)
    if label.dtype.kind not in 'iu':
        raise TypeError(f'a label map must hold integers, got {label.dtype}')
    values, counts = np.unique(label, return_counts=True)
    return {
        int(v): int(n)
        for v, n in zip(values, counts) if int(v) != ignore_index
    }


def sample_class_stats(label: np.ndarray, file: str) -> SampleStats:
    """One entry of ``sample_class_stats.json``: pixel counts plus ``file``.

    Args:
        label (np.ndarray): The full-size trainId label of ``file``.
        file (str): Path of the trainId label file.

    Returns:
        dict: ``{class: pixels, ..., 'file': file}``.
    """
    stats: SampleStats = dict(count_class_pixels(label))
    stats['file'] = file
    return stats


def read_trainid_label(path: str) -> np.ndarray:
    """Read a single-channel trainId PNG as it is stored.

    Raises:
        ClassStatsError: Naming ``path`` when it cannot be read as one.
    """
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ClassStatsError(f'cannot read the label file {path!r}')
    if label.ndim != 2:
        raise ClassStatsError(
            f'{path!r} is not a single-channel trainId label (shape '
            f'{label.shape})')
    return label


def stats_of_file(path: str) -> SampleStats:
    """``sample_class_stats.json`` entry of an existing trainId label."""
    return sample_class_stats(read_trainid_label(path), path)


def collect_class_stats(files: Sequence[str],
                        nproc: int = 1) -> List[SampleStats]:
    """Count every label file, with a progress bar.

    Args:
        files (Sequence[str]): trainId label files.
        nproc (int): Worker processes (1 counts in-process).

    Returns:
        list[dict]: One entry per file, in the order of ``files``.
    """
    from mmengine.utils import ProgressBar

    if nproc < 1:
        raise ValueError(f'nproc must be >= 1, got {nproc}')
    results = []
    bar = ProgressBar(len(files), file=sys.stdout)
    try:
        if nproc == 1 or len(files) < 2:
            for stats in map(stats_of_file, files):
                results.append(stats)
                bar.update()
        else:
            with Pool(min(nproc, len(files))) as pool:
                for stats in pool.imap(stats_of_file, files, chunksize=8):
                    results.append(stats)
                    bar.update()
    finally:
        sys.stdout.write('\n')
        sys.stdout.flush()
    return results


def samples_with_class(stats: Sequence[SampleStats]) -> SamplesWithClass:
    """Invert per-image statistics: for each class, the files holding it.

    Args:
        stats (Sequence[dict]): ``sample_class_stats.json`` entries.

    Returns:
        dict[int, list[tuple[str, int]]]: ``{class: [(file, pixels), ...]}``,
        classes in order of first appearance, files in the order of
        ``stats`` (DAFormer's ``save_class_stats``).
    """
    out: SamplesWithClass = {}
    for entry in stats:
        for c, n in entry.items():
            if c == 'file':
                continue
            out.setdefault(int(c), []).append((entry['file'], int(n)))
    return out


def write_class_stats(out_dir: str, stats: Sequence[SampleStats]) -> None:
    """Write ``sample_class_stats.json`` and ``samples_with_class.json``.

    Each file is written to a temporary file and renamed into place.

    Args:
        out_dir (str): Directory (the dataset root).
        stats (Sequence[dict]): One entry per label file, see
            :func:`sample_class_stats`.
    """
    atomic_write_text(
        osp.join(out_dir, SAMPLE_CLASS_STATS), json.dumps(
            [dict(entry) for entry in stats], indent=2))
    atomic_write_text(
        osp.join(out_dir, SAMPLES_WITH_CLASS),
        json.dumps(samples_with_class(stats), indent=2))


def _read_json(path: str, command: str) -> object:
    if not osp.isfile(path):
        raise ClassStatsError(
            f'class statistics not found: {path!r}. Write them with the '
            f'dataset converter, e.g. `{command}`')
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise ClassStatsError(
            f'cannot read the class statistics {path!r}: {exc}; re-run '
            f'`{command}`') from exc


def _class_id(key: object, path: str) -> int:
    try:
        return int(key)
    except (TypeError, ValueError):
        raise ClassStatsError(
            f'{path!r}: {key!r} is not a class id') from None


def _pixels(value: object, path: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ClassStatsError(
            f'{path!r}: {where} should be a pixel count (int >= 0), got '
            f'{value!r}')
    return value


def load_class_stats(
    stats_dir: str,
    command: str = 'python tools/dataset_converters/class_stats.py ROOT'
) -> Tuple[List[SampleStats], SamplesWithClass]:
    """Read and check both statistics files of ``stats_dir``.

    Args:
        stats_dir (str): Directory holding the two JSON files.
        command (str): The command that writes them, quoted in errors.

    Returns:
        tuple[list[dict], dict]: The ``sample_class_stats.json`` entries
        (class keys as ``int``, plus ``'file'``) and ``samples_with_class``
        (``{class: [(file, pixels), ...]}``), both in file order.

    Raises:
        ClassStatsError: Naming the file that is missing or malformed.
    """
    path = osp.join(stats_dir, SAMPLE_CLASS_STATS)
    raw = _read_json(path, command)
    if not isinstance(raw, list):
        raise ClassStatsError(
            f'{path!r} should hold a list of per-image entries, got '
            f'{type(raw).__name__}')
    stats = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(
                entry.get('file'), str):
            raise ClassStatsError(
                f'{path!r}: entry {i} should be a dict with a "file" path, '
                f'got {entry!r:.200}')
        item: SampleStats = {}
        for key, value in entry.items():
            if key != 'file':
                item[_class_id(key, path)] = _pixels(
                    value, path, f'entry {i} class {key}')
        item['file'] = entry['file']
        stats.append(item)
    path = osp.join(stats_dir, SAMPLES_WITH_CLASS)
    raw = _read_json(path, command)
    if not isinstance(raw, dict):
        raise ClassStatsError(
            f'{path!r} should map class ids to [file, pixels] lists, got '
            f'{type(raw).__name__}')
    with_class = {}
    for key, files in raw.items():
        c = _class_id(key, path)
        if not isinstance(files, list) or not all(
                isinstance(f, list) and len(f) == 2 and isinstance(f[0], str)
                for f in files):
            raise ClassStatsError(
                f'{path!r}: class {key} should list [file, pixels] pairs')
        with_class[c] = [(f, _pixels(n, path, f'class {key}, {f!r}'))
                         for f, n in files]
    return stats, with_class


__all__: Sequence[str] = [
    'SAMPLE_CLASS_STATS', 'SAMPLES_WITH_CLASS', 'ClassStatsError',
    'count_class_pixels', 'sample_class_stats', 'read_trainid_label',
    'stats_of_file', 'collect_class_stats', 'samples_with_class',
    'write_class_stats', 'load_class_stats'
]
