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
settings and lists the same images (:meth:`PseudoLabelDir.is_complete`).
:class:`PseudoLabelDir` owns this layout: every name, write, resume and
staleness decision about such a directory goes through it.
"""
import json
import logging
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from mmseg_uda.utils.atomic_io import (atomic_write, atomic_write_png,
                                      atomic_write_text)
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


class PseudoLabelDir:
    """A pseudo-label directory (see the module docstring for its layout).

    Args:
        root (str): The directory (``out_dir`` of the generator).
    """

    def __init__(self, root: str) -> None:
        self.root = root

    # -- names ------------------------------------------------------------
    def label_dir(self) -> str:
        """The folder of the label PNGs (``seg_map_path`` for mmseg)."""
        return osp.join(self.root, PSEUDO_LABEL_DIR)

    def label_path(self, name: str) -> str:
        """Path of the label PNG of image ``name`` (``<city>/<stem>``)."""
        return prediction_path(self.root, name, PSEUDO_LABEL_DIR)

    def cache_dir(self) -> str:
        """The folder of the run in progress."""
        return osp.join(self.root, CACHE_DIR)

    def cache_path(self, name: str) -> str:
        """Path of the cached argmax and confidence of image ``name``."""
        return osp.join(self.root, CACHE_DIR, 'images', f'{name}.npz')

    def summary_path(self) -> str:
        """Path of the summary JSON."""
        return osp.join(self.root, SUMMARY_FILE)

    def image_list_path(self) -> str:
        """Path of ``images.txt``."""
        return osp.join(self.root, IMAGE_LIST)

    # -- per-image files ----------------------------------------------------
    def write_label(self, name: str, label: np.ndarray) -> None:
        """Write the label PNG of ``name`` atomically."""
        atomic_write_png(self.label_path(name), label)

    def write_cache(self, name: str, label: np.ndarray,
                    confidence: np.ndarray) -> None:
        """Write an uncompressed ``.npz`` of ``label`` and ``confidence``
        atomically (through a file object, so the name is kept as given)."""

        def write(tmp: str) -> None:
            with open(tmp, 'wb') as f:
                np.savez(f, label=label, confidence=confidence)

        atomic_write(self.cache_path(name), write)

    def read_cache(self, name: str) -> Tuple[np.ndarray, np.ndarray]:
        """The ``(label, confidence)`` arrays of a cache file."""
        with np.load(self.cache_path(name)) as data:
            return data['label'], data['confidence']

    def is_processed(self, name: str, rule: str) -> bool:
        """Whether ``process`` already handled ``name`` in the current run
        (its cache for ``bdl``, its final label otherwise)."""
        if rule == 'bdl':
            return osp.isfile(self.cache_path(name))
        return osp.isfile(self.label_path(name))

    # -- the set and its summary --------------------------------------------
    def read_names(self) -> List[str]:
        """The images of ``images.txt``."""
        with open(self.image_list_path()) as f:
            return [line.strip() for line in f if line.strip()]

    def write_names(self, names: Sequence[str]) -> None:
        """Write ``images.txt`` atomically."""
        atomic_write_text(self.image_list_path(),
                          ''.join(f'{n}\n' for n in names))

    def read_summary(self) -> Optional[Dict]:
        """The summary, or None when there is none."""
        if not osp.isfile(self.summary_path()):
            return None
        with open(self.summary_path()) as f:
            return json.load(f)

    def write_summary(self, summary: Dict) -> None:
        """Write the summary JSON atomically."""
        atomic_write_text(self.summary_path(),
                          json.dumps(summary, indent=2, sort_keys=True) +
                          '\n')

    # -- resume and staleness -----------------------------------------------
    def is_complete(self, settings: Dict,
                    names: Optional[Sequence[str]] = None) -> bool:
        """Whether the directory holds finished labels for ``settings``.

        Args:
            settings (dict): Expected settings (:func:`rule_settings`).
            names (Sequence[str], optional): Expected image set; when given,
                ``images.txt`` must list exactly these images.

        Returns:
            bool: The summary exists with the same settings (and image
            set), and every label file exists.
        """
        summary = self.read_summary()
        if summary is None or summary.get('settings') != settings:
            return False
        if not osp.isfile(self.image_list_path()):
            return False
        listed = self.read_names()
        if names is not None and sorted(listed) != sorted(names):
            return False
        if summary.get('num_images') != len(listed):
            return False
        return all(osp.isfile(self.label_path(n)) for n in listed)

    def start_run(self, settings: Dict) -> None:
        """Prepare for a (possibly resumed) run with ``settings``.

        Removes the summary (the directory is incomplete until the run
        ends) and, when the run in progress or the finished labels used
        other settings, every label and cache file they left; then records
        ``settings`` as the run in progress.

        Args:
            settings (dict): Settings of the run (:func:`rule_settings`).
        """
        run_file = osp.join(self.cache_dir(), RUN_FILE)
        previous = None
        if osp.isfile(run_file):
            with open(run_file) as f:
                previous = json.load(f)
        else:
            summary = self.read_summary()
            if summary is not None:
                previous = summary.get('settings')
        folders = (self.label_dir(), self.cache_dir())
        if previous is not None and previous != settings:
            changed = sorted(k for k in set(previous) | set(settings)
                             if previous.get(k) != settings.get(k))
            if any(osp.isdir(f) for f in folders):
                print_log(
                    f'{self.root}: discarding the labels and cache of an '
                    'earlier run, made with other settings: ' + '; '.join(
                        f'{k}: {previous.get(k)!r} -> {settings.get(k)!r}'
                        for k in changed), logger='current',
                    level=logging.WARNING)
            for folder in folders:
                if osp.isdir(folder):
                    shutil.rmtree(folder)
        elif previous is None and osp.isdir(self.label_dir()):
            # labels of unknown origin: never mix them with this run's
            print_log(f'{self.root}: discarding labels of unknown origin (no '
                      'record of their settings or model)', logger='current',
                      level=logging.WARNING)
            shutil.rmtree(self.label_dir())
        if osp.isfile(self.summary_path()):
            os.remove(self.summary_path())
        atomic_write_text(run_file,
                          json.dumps(settings, sort_keys=True) + '\n')

    def pending(self, settings: Dict, names: Sequence[str],
                rule: str) -> Optional[List[str]]:
        """Prepare a run over ``names``; the images it still has to run.

        Args:
            settings (dict): Settings of the run, model included.
            names (Sequence[str]): The set, ``<city>/<stem>``.
            rule (str): The rule (what marks an image processed).

        Returns:
            list[str] or None: Images not processed yet (empty: only the
            set-wide step is left); None when the directory already holds
            the finished labels of these settings and images.
        """
        if self.is_complete(settings, names):
            return None
        self.start_run(settings)
        self.write_names(sorted(names))
        return [n for n in names if not self.is_processed(n, rule)]

    def finish_run(self, keep_cache: bool = False) -> None:
        """Remove the run's cache once the summary is written."""
        if not keep_cache and osp.isdir(self.cache_dir()):
            shutil.rmtree(self.cache_dir())

    def remove_stale_labels(self, names: Sequence[str]) -> int:
        """Remove label PNGs of images outside ``names``; return how many."""
        keep = {osp.normpath(self.label_path(n)) for n in names}
        removed = 0
        for root, _, files in os.walk(self.label_dir()):
            for file in files:
                path = osp.normpath(osp.join(root, file))
                if path not in keep:
                    os.remove(path)
                    removed += 1
        return removed
