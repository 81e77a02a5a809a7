"""Pseudo-labels of target images (BDL's SSL and simpler rules), as an
mmengine metric, in memory independent of the number of images.

BDL keeps the argmax and confidence of every image in memory to take, for
each class, the median confidence over the whole set. Here ``process``
writes each image's argmax and confidence to a cache file and
``compute_metrics`` finds the exact k-th smallest confidence of every class
with a two-level radix histogram over the float32 bit patterns (positive
floats order like their bits read as uint32): the high 16 bits, then the
low 16 bits inside the bin that holds rank k. The metric
streams every file to a :class:`~mmseg_uda.datasets.pseudo_label_dir.
PseudoLabelDir`, which owns the directory's layout. Run through
:class:`~mmseg_uda.evaluation.TargetSetLoop` (mmengine's test loop).
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from mmseg.registry import METRICS

from mmseg_uda.datasets.pseudo_label_dir import (PseudoLabelDir,
                                                 rule_settings)
from mmseg_uda.datasets.ranking_dir import image_key

IGNORE_INDEX = 255
BINS = 1 << 16


def kth_smallest_bits(hist_high: np.ndarray, k: np.ndarray
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """Per class, the high-16-bit bin holding rank ``k`` and the rank of
    the wanted value inside that bin.

    Args:
        hist_high (np.ndarray): (C, 65536) counts of the high 16 bits.
        k (np.ndarray): (C,) wanted 0-based ranks (ignored where a class
            has no values).

    Returns:
        tuple[np.ndarray, np.ndarray]: bins (C,), -1 for empty classes,
        and ranks inside the bin (C,).
    """
    cum = np.cumsum(hist_high, axis=1)
    bins = np.full(len(k), -1, dtype=np.int64)
    inner = np.zeros(len(k), dtype=np.int64)
    for c in np.flatnonzero(cum[:, -1] > 0):
        b = int(np.searchsorted(cum[c], k[c], side='right'))
        bins[c] = b
        inner[c] = k[c] - (cum[c, b - 1] if b > 0 else 0)
    return bins, inner


def _labelled_bar(total: int, what: str) -> ProgressBar:
    """A progress bar over ``total`` images, announced by a log line."""
    print_log(f'{what} ({total} images)', logger='current')
    return ProgressBar(total)


@METRICS.register_module()
class PseudoLabelGenerator(BaseMetric):
    """Write pseudo-labels from class probabilities at label size.

    Consumes ``seg_logits`` that hold probabilities (a
    ``UDAEncoderDecoder`` with ``test_cfg`` ``probs_to_ori_shape=True``,
    set by :class:`~mmseg_uda.evaluation.TargetSetLoop`):
    label = argmax (first maximum on ties), confidence = maximum. Rules:

    - ``'bdl'`` (BDL's SSL): for each class c, threshold_c = the
      ``round(n_c * quantile)``-th smallest confidence (0-based, numpy's
      round half to even) of the pixels labelled c over the whole set,
      0 when c never occurs, at most ``cap``; pixels labelled c with
      confidence below threshold_c become 255. ``process`` caches each
      image; ``compute_metrics`` finds the thresholds exactly in three
      passes over the cache and writes every label.
    - ``'fixed'``: pixels with confidence below ``threshold`` become 255.
    - ``'argmax'``: the plain argmax.

    ``fixed``/``argmax`` write the final PNG in ``process``.
    ``compute_metrics`` (rank 0, after all ranks) covers the images of
    ``out_dir/images.txt`` (or the processed ones when it is absent),
    including those processed by earlier runs, and writes
    ``pseudo_labels.json`` last.

    Args:
        out_dir (str): The pseudo-label directory.
        rule (str): ``'bdl'``, ``'fixed'`` or ``'argmax'``.
        quantile (float): Class-wise quantile of ``'bdl'`` (BDL: 0.5).
        cap (float): Upper bound of the ``'bdl'`` thresholds (BDL: 0.9).
        threshold (float): Confidence threshold of ``'fixed'``.
        num_classes (int, optional): Expected number of channels; taken
            from the first probabilities when None.
        img_suffix (str): Image suffix removed to name images
            ``<city>/<stem>``.
        keep_cache (bool): Keep ``out_dir/.cache`` after success.
        collect_device (str): Device to collect results on.
        prefix (str, optional): Prefix of the metric names.
        model_id (str, optional): What identifies the model (e.g. its
            checkpoint path, size and time). Recorded with the settings: a
            directory made by another model is never reused or resumed,
            its outputs are replaced.
    """

    default_prefix: Optional[str] = 'pseudo_label'

    def __init__(self,
                 out_dir: str,
                 rule: str = 'bdl',
                 quantile: float = 0.5,
                 cap: float = 0.9,
                 threshold: float = 0.9,
                 num_classes: Optional[int] = None,
                 img_suffix: str = '_leftImg8bit.png',
                 keep_cache: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 model_id: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.settings = rule_settings(rule, quantile, cap, threshold)
        if model_id is not None:
            self.settings['model'] = model_id
        self.out_dir = out_dir
        self.dir = PseudoLabelDir(out_dir)
        self.rule = rule
        self.quantile = float(quantile)
        self.cap = float(cap)
        self.threshold = float(threshold)
        self.num_classes = num_classes
        self.img_suffix = img_suffix
        self.keep_cache = keep_cache

    def _check_probs(self, name: str, shape: Sequence[int]) -> None:
        if len(shape) != 3:
            raise ValueError(f'{name}: expected (C, H, W) probabilities, '
                             f'got shape {tuple(shape)}')
        if self.num_classes is None:
            self.num_classes = shape[0]
        if shape[0] != self.num_classes:
            raise ValueError(
                f'{name}: {shape[0]} probability channels, expected '
                f'num_classes={self.num_classes}')
        if self.num_classes > IGNORE_INDEX:
            raise ValueError(f'{self.num_classes} classes do not fit uint8 '
                             f'labels with ignore index {IGNORE_INDEX}')

    def _label_and_confidence(self, name: str, probs: Any,
                              label: Optional[Any] = None
                              ) -> Tuple[np.ndarray, np.ndarray]:
        """Argmax (uint8) and confidence (float32) of one image.

        Tensors are reduced where they are (on the GPU in a GPU run): only
        the label and the confidence map are copied to the host, not the
        C probability maps.
        """
        self._check_probs(name, tuple(probs.shape))
        if isinstance(probs, torch.Tensor):
            probs = probs.detach().float()  # no copy when already float32
            if label is None or tuple(label.shape[-2:]) != probs.shape[1:]:
                label = probs.argmax(dim=0)
            label = torch.as_tensor(label, device=probs.device).reshape(
                probs.shape[1:])
            # the probability of the argmax is the maximum (a gather, not a
            # second reduction over the classes)
            confidence = probs.gather(0, label[None].long())[0]
            label = label.to(torch.uint8).cpu().numpy()
            confidence = confidence.cpu().numpy()
        else:
            probs = np.asarray(probs)
            if label is not None:
                label = np.asarray(label).reshape(label.shape[-2:])
            if label is None or label.shape != probs.shape[1:]:
                label = probs.argmax(axis=0)
            confidence = np.take_along_axis(
                probs, label[None].astype(np.intp), axis=0)[0]
            label = label.astype(np.uint8)
        # + 0.0 turns -0.0 into +0.0, whose bits order like the value
        confidence = confidence.astype(np.float32) + np.float32(0.0)
        if not (np.isfinite(confidence).all() and (confidence >= 0).all()):
            raise ValueError(f'{name}: probabilities must be finite and '
                             'non-negative (is `probs_to_ori_shape` set?)')
        return label, confidence

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Label each image (``fixed``/``argmax``) or cache it (``bdl``).

        Args:
            data_batch (dict): The batch (unused).
            data_samples (Sequence[dict]): Outputs with ``seg_logits``
                holding probabilities and ``img_path``.
        """
        for sample in data_samples:
            name = image_key(sample['img_path'], self.img_suffix)
            probs = sample['seg_logits']['data']
            # the test step's argmax of these probabilities, reused
            pred = sample.get('pred_sem_seg', {}).get('data')
            label, confidence = self._label_and_confidence(name, probs,
                                                           pred)
            if self.rule == 'bdl':
                self.dir.write_cache(name, label, confidence)
            else:
                if self.rule == 'fixed':
                    # in float64: a float32 confidence just below the
                    # threshold must not be rounded up to it
                    below = confidence.astype(np.float64) < self.threshold
                    label[below] = IGNORE_INDEX
                self.dir.write_label(name, label)
            self.results.append(name)

    def _load(self, name: str) -> Tuple[np.ndarray, np.ndarray]:
        label, confidence = self.dir.read_cache(name)
        if label.max(initial=0) >= self.num_classes:
            raise ValueError(f'{self.dir.cache_path(name)} has labels '
                             f'>= num_classes={self.num_classes}')
        return label, confidence

    def _infer_num_classes(self, names: Sequence[str]) -> None:
        if self.num_classes is not None:
            return
        if self.rule != 'bdl':
            raise ValueError('num_classes is unknown: nothing was processed '
                             'in this run, give `num_classes`')
        top = 0
        for name in names:
            label, _ = self.dir.read_cache(name)
            top = max(top, int(label.max(initial=0)))
        self.num_classes = top + 1

    def class_thresholds(self, names: Sequence[str]
                         ) -> Tuple[np.ndarray, np.ndarray]:
        """BDL's class thresholds over the cached images ``names``.

        Args:
            names (Sequence[str]): The images.

        Returns:
            tuple[np.ndarray, np.ndarray]: thresholds (C,) float64 (capped,
            0 for absent classes) and pixel counts per argmax class (C,).
        """
        num = self.num_classes
        hist = np.zeros((num, BINS), dtype=np.int64)
        bar = _labelled_bar(len(names), 'class thresholds, pass 1 of 2')
        for name in names:  # pass 1: high 16 bits per class
            label, confidence = self._load(name)
            index = label.astype(np.int64).ravel() * BINS + (
                confidence.view(np.uint32).ravel() >> 16)
            hist += np.bincount(index, minlength=num * BINS).reshape(
                num, BINS)
            bar.update()
        counts = hist.sum(axis=1)
        # BDL: x[round(len(x) * 0.5)]; clipped so that quantile=1 is valid
        k = np.minimum(np.round(counts * self.quantile).astype(np.int64),
                       np.maximum(counts - 1, 0))
        high, inner = kth_smallest_bits(hist, k)
        lookup = np.append(high, -1)  # bin per class, -1 = not wanted
        hist[:] = 0
        bar = _labelled_bar(len(names), 'class thresholds, pass 2 of 2')
        for name in names:  # pass 2: low 16 bits inside the chosen bins
            label, confidence = self._load(name)
            bits = confidence.view(np.uint32).ravel()
            cls = label.astype(np.int64).ravel()
            keep = (bits >> 16).astype(np.int64) == lookup[cls]
            index = cls[keep] * BINS + (bits[keep] & 0xFFFF)
            hist += np.bincount(index, minlength=num * BINS).reshape(
                num, BINS)
            bar.update()
        low, _ = kth_smallest_bits(hist, inner)
        thresholds = np.zeros(num, dtype=np.float64)
        for c in np.flatnonzero(counts > 0):
            bits = np.array([(high[c] << 16) | low[c]], dtype=np.uint32)
            thresholds[c] = float(bits.view(np.float32)[0])
        thresholds[thresholds > self.cap] = self.cap
        return thresholds, counts

    def _write_bdl_labels(self, names: Sequence[str],
                          thresholds: np.ndarray) -> np.ndarray:
        labelled = np.zeros(self.num_classes, dtype=np.int64)
        bar = _labelled_bar(len(names), 'writing the pseudo-labels')
        for name in names:  # pass 3: the labels
            label, confidence = self._load(name)
            below = confidence.astype(np.float64) < thresholds[label]
            label[below] = IGNORE_INDEX
            self.dir.write_label(name, label)
            labelled += np.bincount(label.ravel(),
                                    minlength=IGNORE_INDEX + 1)[:len(
                                        labelled)]
            bar.update()
        return labelled

    def _count_labels(self, names: Sequence[str]) -> Tuple[np.ndarray, int]:
        labelled = np.zeros(self.num_classes, dtype=np.int64)
        pixels = 0
        bar = _labelled_bar(len(names), 'counting the labelled pixels')
        for name in names:
            label = cv2.imread(self.dir.label_path(name),
                               cv2.IMREAD_UNCHANGED)
            if label is None:
                raise OSError(f'cannot read {self.dir.label_path(name)}')
            counts = np.bincount(label.ravel(), minlength=IGNORE_INDEX + 1)
            if counts[self.num_classes:IGNORE_INDEX].any():
                raise ValueError(f'{self.dir.label_path(name)} has '
                                 f'labels >= num_classes={self.num_classes}')
            labelled += counts[:self.num_classes]
            pixels += label.size
            bar.update()
        return labelled, pixels

    def pending(self, names: Sequence[str]) -> Optional[List[str]]:
        """Prepare ``out_dir`` for labelling ``names``; the images to run.

        Labels and cache of other settings or another model are stale:
        removed before anything runs. Called on the main process before
        the loop runs.

        Args:
            names (Sequence[str]): The set, ``<city>/<stem>``.

        Returns:
            list[str] or None: Images not processed yet (empty: only the
            set-wide step is left); None when ``out_dir`` already holds the
            finished labels of these settings and images.
        """
        todo = self.dir.pending(self.settings, names, self.rule)
        if todo is None:
            # a run stopped between its summary and its clean-up
            self.dir.finish_run(self.keep_cache)
            print_log(f'{self.out_dir} already holds the {self.rule} '
                      f'pseudo-labels of these {len(names)} images',
                      logger='current')
            return None
        print_log(f'{len(names)} images, {len(names) - len(todo)} already '
                  f'processed in {self.out_dir}', logger='current')
        return todo

    def finished(self) -> Dict[str, float]:
        """The metrics of a complete ``out_dir`` (see :meth:`pending`)."""
        summary = self.dir.read_summary()
        metrics = dict(num_images=summary['num_images'],
                       labelled_fraction=summary['labelled_fraction'])
        for c, t in enumerate(summary.get('thresholds', [])):
            metrics[f'threshold_{c}'] = float(t)
        return metrics

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Finish the labels of all images and write the summary.

        Args:
            results (list): Names processed in this run (all ranks).

        Returns:
            dict[str, float]: ``num_images``, ``labelled_fraction`` and,
            for ``bdl``, ``threshold_<c>`` per class.

        Raises:
            FileNotFoundError: If an image of the set was not processed.
        """
        names: List[str]
        if osp.isfile(self.dir.image_list_path()):
            names = self.dir.read_names()
        else:
            names = sorted(set(results))
        missing = [n for n in names
                   if not self.dir.is_processed(n, self.rule)]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} images of {self.out_dir} were not processed '
                f'(rule {self.rule!r}), e.g. {missing[0]}')
        self._infer_num_classes(names)
        summary = dict(settings=self.settings, num_classes=self.num_classes,
                       num_images=len(names))
        if self.rule == 'bdl':
            thresholds, counts = self.class_thresholds(names)
            labelled = self._write_bdl_labels(names, thresholds)
            pixels = int(counts.sum())
            summary.update(thresholds=thresholds.tolist(),
                           argmax_counts=counts.tolist())
        else:
            labelled, pixels = self._count_labels(names)
        self.dir.remove_stale_labels(names)
        fraction = float(labelled.sum() / pixels) if pixels else 0.0
        summary.update(labelled_counts=labelled.tolist(), num_pixels=pixels,
                       labelled_fraction=fraction)
        self.dir.write_summary(summary)
        self.dir.finish_run(self.keep_cache)
        metrics = dict(num_images=len(names), labelled_fraction=fraction)
        if self.rule == 'bdl':
            metrics.update({f'threshold_{c}': float(t)
                            for c, t in enumerate(summary['thresholds'])})
        return metrics
