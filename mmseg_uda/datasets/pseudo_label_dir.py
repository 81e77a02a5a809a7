"""Files of a pseudo-label directory: paths, per-image cache, summary.

Layout of a pseudo-label directory (``out_dir``)::

    images.txt            the set, one ``<city>/<stem>`` per line
    pseudo_labels/<city>/<stem>_gtFine_labelTrainIds.png
                          uint8 trainIds, 255 = ignored (``seg_map_path``
                          of mmseg's ``CityscapesDataset``)
    .cache/run.json       settings of the run in progress
    .cache/images/<city>/<stem>.npz
                          per-image argmax (uint8) and confidence (float32)
                          of the ``bdl`` rule, until all labels are written
    pseudo_labels.json    summary, written last: settings, per-class counts
                          and thresholds, number of images, labelled fraction

``.cache`` is removed once the summary is written (unless kept). A
directory is complete for some settings when its summary has those
settings and lists the same images (:func:`is_complete`).
"""
import json
import logging
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from mmseg_uda.utils.atomic_io import atomic_write, atomic_write_text
from .ranking_dir import IMAGE_LIST, PSEUDO_LABEL_DIR, prediction_path

CACHE_DIR = '.cache'
RUN_FILE = 'run.json'
SUMMARY_FILE = 'pseudo_labels.json'
RULES = ('bdl', 'fixed', 'argmax')


def rule_settings(rule: str,
                  quantile: float = 0.5,
                  cap: float = 0.9,
                  threshold: float = 0.9) -> Dict:
    """The settings that determine the labels of a rule.

    Args:
        rule (str): ``'bdl'``, ``'fixed'`` or ``'argmax'``.
        quantile (float): Class-wise quantile of the ``bdl`` rule.
        cap (float): Upper bound of the ``bdl`` thresholds.
        threshold (float): Confidence threshold of the ``fixed`` rule.

    Returns:
        dict: ``rule`` and the parameters it uses.

    Raises:
        ValueError: If the rule is unknown or a parameter out of range.
    """
    if rule not in RULES:
        raise ValueError(f'unknown pseudo-label rule {rule!r}, expected one '
                         f'of {RULES}')
    if rule == 'bdl':
        if not 0.0 <= quantile <= 1.0:
            raise ValueError(f'quantile must be in [0, 1], got {quantile}')
        return dict(rule=rule, quantile=float(quantile), cap=float(cap))
    if rule == 'fixed':
        return dict(rule=rule, threshold=float(threshold))
    return dict(rule=rule)


def label_dir(out_dir: str) -> str:
    """The folder of the label PNGs (``seg_map_path`` for mmseg)."""
    return osp.join(out_dir, PSEUDO_LABEL_DIR)


def label_path(out_dir: str, name: str) -> str:
    """Path of the label PNG of image ``name`` (``<city>/<stem>``)."""
    return prediction_path(out_dir, name, PSEUDO_LABEL_DIR)


def cache_dir(out_dir: str) -> str:
    """The folder of the run in progress."""
    return osp.join(out_dir, CACHE_DIR)


def cache_path(out_dir: str, name: str) -> str:
    """Path of the cached argmax and confidence of image ``name``."""
    return osp.join(out_dir, CACHE_DIR, 'images', f'{name}.npz')


def summary_path(out_dir: str) -> str:
    """Path of the summary JSON."""
    return osp.join(out_dir, SUMMARY_FILE)


def image_list_path(out_dir: str) -> str:
    """Path of ``images.txt``."""
    return osp.join(out_dir, IMAGE_LIST)


def write_cache(path: str, label: np.ndarray, confidence: np.ndarray) -> None:
    """Write an uncompressed ``.npz`` of ``label`` and ``confidence``
    atomically (through a file object, so the name is kept as given)."""

    def write(tmp: str) -> None:
        with open(tmp, 'wb') as f:
            np.savez(f, label=label, confidence=confidence)

    atomic_write(path, write)


def read_cache(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """The ``(label, confidence)`` arrays of a cache file."""
    with np.load(path) as data:
        return data['label'], data['confidence']


def is_processed(out_dir: str, name: str, rule: str) -> bool:
    """Whether ``process`` already handled ``name`` in the current run
    (its cache for ``bdl``, its final label otherwise)."""
    if rule == 'bdl':
        return osp.isfile(cache_path(out_dir, name))
    return osp.isfile(label_path(out_dir, name))


def read_names(path: str) -> List[str]:
    """Non-empty stripped lines of a text file."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def write_names(out_dir: str, names: Sequence[str]) -> None:
    """Write ``images.txt`` atomically."""
    atomic_write_text(image_list_path(out_dir),
                      ''.join(f'{n}\n' for n in names))


def read_summary(out_dir: str) -> Optional[Dict]:
    """The summary of ``out_dir``, or None when there is none."""
    path = summary_path(out_dir)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_summary(out_dir: str, summary: Dict) -> None:
    """Write the summary JSON atomically."""
    atomic_write_text(summary_path(out_dir),
                      json.dumps(summary, indent=2, sort_keys=True) + '\n')


def is_complete(out_dir: str, settings: Dict,
                names: Optional[Sequence[str]] = None) -> bool:
    """Whether ``out_dir`` holds finished labels for ``settings``.

    Args:
        out_dir (str): The pseudo-label directory.
        settings (dict): Expected settings (:func:`rule_settings`).
        names (Sequence[str], optional): Expected image set; when given,
            ``images.txt`` must list exactly these images.

    Returns:
        bool: The summary exists with the same settings (and image set),
        and every label file exists.
    """
    summary = read_summary(out_dir)
    if summary is None or summary.get('settings') != settings:
        return False
    if not osp.isfile(image_list_path(out_dir)):
        return False
    listed = read_names(image_list_path(out_dir))
    if names is not None and sorted(listed) != sorted(names):
        return False
    if summary.get('num_images') != len(listed):
        return False
    return all(osp.isfile(label_path(out_dir, n)) for n in listed)


def start_run(out_dir: str, settings: Dict) -> None:
    """Prepare ``out_dir`` for a (possibly resumed) run with ``settings``.

    Removes the summary (the directory is incomplete until the run ends)
    and, when the run in progress or the finished labels used other
    settings, every label and cache file they left; then records
    ``settings`` as the run in progress.

    Args:
        out_dir (str): The pseudo-label directory.
        settings (dict): Settings of the run (:func:`rule_settings`).
    """
    run_file = osp.join(cache_dir(out_dir), RUN_FILE)
    previous = None
    if osp.isfile(run_file):
        with open(run_file) as f:
            previous = json.load(f)
    else:
        summary = read_summary(out_dir)
        if summary is not None:
            previous = summary.get('settings')
    if previous is not None and previous != settings:
        changed = sorted(k for k in set(previous) | set(settings)
                         if previous.get(k) != settings.get(k))
        if any(osp.isdir(f) for f in (label_dir(out_dir),
                                      cache_dir(out_dir))):
            print_log(
                f'{out_dir}: discarding the labels and cache of an earlier '
                f'run, made with other settings: ' + '; '.join(
                    f'{k}: {previous.get(k)!r} -> {settings.get(k)!r}'
                    for k in changed), logger='current',
                level=logging.WARNING)
        for folder in (label_dir(out_dir), cache_dir(out_dir)):
            if osp.isdir(folder):
                shutil.rmtree(folder)
    elif previous is None and osp.isdir(label_dir(out_dir)):
        # labels of unknown origin: never mix them with this run's
        print_log(f'{out_dir}: discarding labels of unknown origin (no '
                  'record of their settings or model)', logger='current',
                  level=logging.WARNING)
        shutil.rmtree(label_dir(out_dir))
    if osp.isfile(summary_path(out_dir)):
        os.remove(summary_path(out_dir))
    atomic_write_text(run_file, json.dumps(settings, sort_keys=True) + '\n')


def finish_run(out_dir: str, keep_cache: bool = False) -> None:
    """Remove the run's cache once the summary is written."""
    if not keep_cache and osp.isdir(cache_dir(out_dir)):
        shutil.rmtree(cache_dir(out_dir))


def remove_stale_labels(out_dir: str, names: Sequence[str]) -> int:
    """Remove label PNGs of images outside ``names``; return how many."""
    keep = {osp.normpath(label_path(out_dir, n)) for n in names}
    removed = 0
    for root, _, files in os.walk(label_dir(out_dir)):
        for file in files:
            path = osp.normpath(osp.join(root, file))
            if path not in keep:
                os.remove(path)
                removed += 1
    return removed
