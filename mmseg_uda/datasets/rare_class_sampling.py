"""Rare class sampling (RCS) of DAFormer (Hoyer et al., CVPR 2022).

A training sample is drawn by first drawing a class ``c`` with probability
``softmax((1 - f) / T)``, ``f`` being each class's share of all labelled source
pixels and ``T`` the temperature, then a source image holding more than
``min_pixels`` pixels of ``c`` (uniformly). The dataset then re-crops that
image until the crop keeps more than ``min_pixels * min_crop_ratio`` pixels of
``c`` (at most :data:`MAX_CROP_RETRIES` more loads). The statistics are those
written by the dataset converters, see :mod:`mmseg_uda.datasets.class_stats`.

This follows ``seg/mmseg/datasets/uda_dataset.py`` of lhoyer/MIC
(``get_rcs_class_probs`` and ``UDADataset.get_rare_class_sample``): the same
float32 arithmetic, the same class order (ascending total pixels, ties in
order of first appearance in ``sample_class_stats.json``) and the same strict
comparisons (``pixels > min_pixels`` to keep an image,
``crop pixels > min_pixels * min_crop_ratio`` to keep a crop).
"""
import logging
import os.path as osp
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log

from .class_stats import (SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS,
                          ClassStatsError, load_class_stats)

# ``for j in range(10)`` in UDADataset.get_rare_class_sample: at most ten
# more loads of the drawn image after the first one.
MAX_CROP_RETRIES = 10


class RareClassIndex(NamedTuple):
    """An index of :class:`SourceTargetDataset` carrying an RCS draw.

    :class:`~mmseg_uda.datasets.samplers.SourceTargetSampler` yields these
    when rare class sampling is on; they pass through mmengine's DataLoader
    (and its worker processes) like plain indices.

    Attributes:
        source (int): Source index (an image holding ``cls``).
        target (int): Target index.
        cls (int): The drawn class, which the source crop must keep.
    """
    source: int
    target: int
    cls: int


def rcs_class_probs(stats: Sequence[Dict[Any, Any]],
                    class_temp: float) -> Tuple[List[int], np.ndarray]:
    """Classes and their sampling probabilities from per-image statistics.

    Args:
        stats (Sequence[dict]): ``sample_class_stats.json`` entries
            (``{class: pixels, ..., 'file': path}``).
        class_temp (float): The temperature ``T``.

    Returns:
        tuple[list[int], np.ndarray]: The classes present, rarest first, and
        their probabilities (float32, summing to 1).
    """
    if class_temp <= 0:
        raise ValueError(f'class_temp must be > 0, got {class_temp}')
    totals: Dict[int, int] = {}
    for entry in stats:
        for key, pixels in entry.items():
            if key != 'file':
                totals[int(key)] = totals.get(int(key), 0) + pixels
    if not totals:
        raise ClassStatsError('the class statistics hold no labelled pixel')
    # a stable sort: equal totals keep their order of first appearance
    classes = sorted(totals, key=totals.__getitem__)
    counts = torch.tensor([totals[c] for c in classes], dtype=torch.int64)
    freq = counts.to(torch.float32) / counts.sum().to(torch.float32)
    probs = torch.softmax((1 - freq) / class_temp, dim=-1)
    return classes, probs.numpy()


def label_of(sample: Any) -> Optional[torch.Tensor]:
    """The (cropped) label of a pipeline output, if it carries one.

    Works for packed samples (``data_samples.gt_sem_seg.data``) and for
    unpacked result dicts (``gt_seg_map``).
    """
    if isinstance(sample, dict):
        data_sample = sample.get('data_samples')
        gt = getattr(data_sample, 'gt_sem_seg', None)
        if gt is not None:
            return gt.data
        if sample.get('gt_seg_map') is not None:
            return torch.as_tensor(np.asarray(sample['gt_seg_map']))
    return None


def _label_basenames(dataset: Any) -> List[str]:
    """Basename of every sample's label file, in dataset order."""
    names = []
    for i in range(len(dataset)):
        path = dataset.get_data_info(i).get('seg_map_path')
        if not path:
            raise ValueError(
                'rare class sampling needs labelled source samples, but '
                f'source sample {i} has no seg_map_path')
        names.append(osp.basename(path))
    return names


class RareClassSampling:
    """Draws (class, source index) pairs as DAFormer's rare class sampling.

    Args:
        source (Dataset): The source dataset (fully initialised); its
            ``get_data_info(i)['seg_map_path']`` basenames are matched with
            the basenames of the files in the statistics.
        class_temp (float): Temperature ``T``. Defaults to 0.01 (DAFormer).
        min_pixels (int): An image is drawn for class ``c`` only if it has
            more than this many pixels of ``c``. Defaults to 3000 (DAFormer).
        min_crop_ratio (float): A crop is re-drawn until it has more than
            ``min_pixels * min_crop_ratio`` pixels of ``c``; 0 turns the
            re-cropping off. Defaults to 0.5 (DAFormer; HRDA uses 2.0).
        stats_dir (str, optional): Directory of ``sample_class_stats.json``
            and ``samples_with_class.json``. Defaults to the source
            dataset's ``data_root``.

    Raises:
        ClassStatsError: If the statistics are missing or malformed, name
            labels that the source dataset does not have, or a class outside
            the dataset's classes.
        ValueError: If a class has no image above ``min_pixels``, or an
            option is out of range.
    """

    def __init__(self,
                 source: Any,
                 class_temp: float = 0.01,
                 min_pixels: int = 3000,
                 min_crop_ratio: float = 0.5,
                 stats_dir: Optional[str] = None) -> None:
        if min_pixels < 0 or min_crop_ratio < 0:
            raise ValueError(
                'rare_class_sampling: min_pixels and min_crop_ratio must be '
                f'>= 0, got {min_pixels} and {min_crop_ratio}')
        self.class_temp = class_temp
        self.min_pixels = min_pixels
        self.min_crop_ratio = min_crop_ratio
        self.stats_dir = stats_dir or getattr(source, 'data_root', None)
        if not self.stats_dir:
            raise ValueError(
                'rare_class_sampling needs `stats_dir` when the source '
                'dataset has no data_root')
        stats, with_class = load_class_stats(self.stats_dir,
                                             self._command(source))
        stats, with_class = self._apply_label_map(stats, with_class, source)
        names = _label_basenames(source)
        self._check_files(stats, with_class, names)
        self._check_classes(stats, source)
        self.classes, self.probs = rcs_class_probs(stats, class_temp)
        self.samples_with_class = self._filter(with_class, names)
        print_log(f'RCS classes: {self.classes}', logger='current')
        print_log(f'RCS class probabilities: {self.probs}', logger='current')

    def _command(self, source: Any) -> str:
        """The command writing the statistics, for error messages."""
        prefix = getattr(source, 'data_prefix', None) or {}
        label_dir = prefix.get('seg_map_path') or 'LABEL_DIR'
        return ('python tools/dataset_converters/class_stats.py '
                f'{self.stats_dir} --label-dir {label_dir}')

    def _path(self, name: str) -> str:
        return osp.join(self.stats_dir, name)

    def _check_files(self, stats: list, with_class: dict,
                     names: List[str]) -> None:
        """Every file in the statistics is a label of the source dataset."""
        known: set = set()
        for name in names:
            if name in known:
                raise ValueError(
                    'rare class sampling matches label files by basename, '
                    'but the source dataset has several labels named '
                    f'{name!r}')
            known.add(name)
        for file_name, files in (
            (SAMPLE_CLASS_STATS, [e['file'] for e in stats]),
            (SAMPLES_WITH_CLASS, [f for v in with_class.values()
                                  for f, _ in v]),
        ):
            unknown = [f for f in files if osp.basename(f) not in known]
            if unknown:
                raise ClassStatsError(
                    f'{self._path(file_name)!r} names {len(unknown)} label '
                    'file(s) that the source dataset does not have (first: '
                    f'{unknown[0]!r}); the statistics were made for another '
                    'dataset: re-run the converter on this one')
        missing = len(known) - len({osp.basename(e['file']) for e in stats})
        if missing:
            print_log(
                f'{missing} source labels are not in '
                f'{self._path(SAMPLE_CLASS_STATS)!r}: rare class sampling '
                'never draws them', logger='current', level=logging.WARNING)

    @staticmethod
    def _apply_label_map(stats: list, with_class: dict,
                         source: Any) -> Tuple[list, dict]:
        """Translate the statistics' class ids as the dataset translates its
        labels.

        A dataset given a subset of its classes (mmseg's ``metainfo``
        ``classes``) maps the ids of its label files through
        ``metainfo['label_map']``, the ids of dropped classes to 255. The
        statistics count the ids of the files; this gives them the ids the
        model trains on, dropping the ignored ones.
        """
        label_map = (getattr(source, 'metainfo', None) or {}).get(
            'label_map')
        if not label_map:
            return stats, with_class
        ignore = getattr(source, 'ignore_index', 255)

        def new_id(c: int) -> int:
            return label_map.get(c, c)

        out_stats = []
        for entry in stats:
            mapped: Dict[Any, Any] = {}
            for c, n in entry.items():
                if c == 'file':
                    mapped['file'] = n
                elif new_id(c) != ignore:
                    mapped[new_id(c)] = mapped.get(new_id(c), 0) + n
            out_stats.append(mapped)
        out_with_class: Dict[int, list] = {}
        for c, files in with_class.items():
            if new_id(c) != ignore:
                out_with_class.setdefault(new_id(c), []).extend(files)
        return out_stats, out_with_class

    def _check_classes(self, stats: list, source: Any) -> None:
        """Every class id in the statistics is one of the dataset's."""
        classes = (getattr(source, 'metainfo', None) or {}).get('classes')
        if classes is None:
            return
        for entry in stats:
            bad = [c for c in entry if c != 'file'
                   and not 0 <= c < len(classes)]
            if bad:
                raise ClassStatsError(
                    f'{self._path(SAMPLE_CLASS_STATS)!r}: class id {bad[0]} '
                    f'(in {entry["file"]!r}) is not one of the dataset\'s '
                    f'{len(classes)} classes; were the statistics counted on '
                    'labelIds instead of trainIds?')

    def _filter(self, with_class: dict,
                names: List[str]) -> Dict[int, List[int]]:
        """Source indices of the images with more than ``min_pixels``."""
        index = {name: i for i, name in enumerate(names)}
        out = {}
        for c in self.classes:
            if c not in with_class:
                raise ClassStatsError(
                    f'class {c} is in {self._path(SAMPLE_CLASS_STATS)!r} but '
                    f'not in {self._path(SAMPLES_WITH_CLASS)!r}: the two '
                    'files do not belong together; re-run the converter')
            out[c] = [
                index[osp.basename(f)] for f, pixels in with_class[c]
                if pixels > self.min_pixels
            ]
            if not out[c]:
                raise ValueError(
                    f'rare class sampling: no source image has more than '
                    f'min_pixels={self.min_pixels} pixels of class {c} '
                    f'(per {self._path(SAMPLES_WITH_CLASS)!r}); lower '
                    '`min_pixels`')
        return out

    def draw(self, generator: torch.Generator) -> Tuple[int, int]:
        """Draw a class, then a source image holding it.

        Args:
            generator (torch.Generator): The only source of randomness.

        Returns:
            tuple[int, int]: ``(class, source index)``.
        """
        probs = torch.from_numpy(self.probs)
        k = int(torch.multinomial(probs, 1, generator=generator))
        c = self.classes[k]
        images = self.samples_with_class[c]
        j = int(torch.randint(len(images), (1, ), generator=generator))
        return c, images[j]

    def crop_keeps_class(self, label: torch.Tensor, cls: int) -> bool:
        """Whether a crop's label has more than ``min_pixels *
        min_crop_ratio`` pixels of ``cls``."""
        count = int((torch.as_tensor(label) == cls).sum())
        return count > self.min_pixels * self.min_crop_ratio

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(class_temp={self.class_temp}, '
                f'min_pixels={self.min_pixels}, min_crop_ratio='
                f'{self.min_crop_ratio}, stats_dir={self.stats_dir!r})')
