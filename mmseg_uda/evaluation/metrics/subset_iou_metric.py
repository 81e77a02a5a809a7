"""IoU metric that also reports mean IoU over subsets of the classes."""
import numbers
import warnings
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class SubsetIoUMetric(IoUMetric):
    """:class:`mmseg.evaluation.IoUMetric` plus mIoU over class subsets.

    Used for SYNTHIA -> Cityscapes, where mIoU16 and mIoU13 are the means over
    16 and 13 of the 19 Cityscapes classes::

        val_evaluator = dict(
            type='SubsetIoUMetric',
            iou_metrics=['mIoU'],
            class_subsets=dict(mIoU16=SYNTHIA_16_CLASSES,
                               mIoU13=SYNTHIA_13_CLASSES))

    Every key returned by :class:`IoUMetric` is kept; one key per subset is
    added whose value is the nan-aware mean of the per-class IoUs of the
    subset, in percent and rounded to 2 decimals like ``mIoU``. The per-class
    IoUs get the same ``nan_to_num`` treatment as in :class:`IoUMetric`.

    Args:
        class_subsets (Mapping[str, Sequence[int]]): Result key -> class
            indices (trainIds). Indices must be distinct and smaller than the
            number of classes of the dataset.
        **kwargs: Passed to :class:`mmseg.evaluation.IoUMetric`.

    Raises:
        ValueError: If a subset is empty, has duplicate or non-integer indices,
            its key collides with a key of :class:`IoUMetric`, or (once the
            dataset meta is known) an index is out of range.
    """

    _RESERVED_KEYS = ('aAcc', 'mIoU', 'mAcc', 'mDice', 'mFscore',
                      'mPrecision', 'mRecall')

    def __init__(self, class_subsets: Mapping[str, Sequence[int]],
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.class_subsets: Dict[str, Tuple[int, ...]] = self._parse_subsets(
            class_subsets)

    @classmethod
    def _parse_subsets(
            cls, class_subsets: Mapping[str,
                                        Sequence[int]]) -> Dict[str, tuple]:
        """Validate the subsets that do not depend on the dataset."""
        if not isinstance(class_subsets, Mapping):
            raise TypeError('class_subsets must be a dict of name -> class '
                            f'indices, got {type(class_subsets).__name__}')
        parsed = {}
        for name, indices in class_subsets.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f'class subset name must be a non-empty '
                                 f'string, got {name!r}')
            if name in cls._RESERVED_KEYS:
                raise ValueError(f'class subset name {name!r} collides with a '
                                 'metric of IoUMetric')
            indices = tuple(indices)
            if not indices:
                raise ValueError(f'class subset {name!r} is empty')
            for idx in indices:
                if (not isinstance(idx, numbers.Integral)
                        or isinstance(idx, bool) or idx < 0):
                    raise ValueError(f'class subset {name!r} holds {idx!r}; '
                                     'indices must be non-negative integers')
            if len(set(indices)) != len(indices):
                raise ValueError(
                    f'class subset {name!r} has duplicate indices: {indices}')
            parsed[name] = tuple(int(i) for i in indices)
        return parsed

    def _check_num_classes(self, num_classes: int) -> None:
        """Raise if a subset index is not a valid class index."""
        for name, indices in self.class_subsets.items():
            bad = [i for i in indices if i >= num_classes]
            if bad:
                raise ValueError(
                    f'class subset {name!r} holds class indices {bad} but the '
                    f'dataset has only {num_classes} classes (valid indices: '
                    f'0..{num_classes - 1})')

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Optional[dict]: Meta info of the dataset."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        """Set the dataset meta and validate the subsets against it."""
        if dataset_meta is not None and 'classes' in dataset_meta:
            self._check_num_classes(len(dataset_meta['classes']))
        BaseMetric.dataset_meta.fset(self, dataset_meta)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute the IoUMetric results and the subset means.

        Args:
            results (list): Per-image ``(intersect, union, pred, label)``
                area tuples from :meth:`IoUMetric.process`.

        Returns:
            dict[str, float]: Everything :class:`IoUMetric` returns plus one
            key per class subset.
        """
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        areas = tuple(zip(*results))
        total_intersect = sum(areas[0])
        total_union = sum(areas[1])
        self._check_num_classes(len(total_intersect))
        per_class = self.total_area_to_metrics(
            total_intersect,
            total_union,
            sum(areas[2]),
            sum(areas[3]),
            metrics=['mIoU'],
            nan_to_num=self.nan_to_num)
        iou = per_class['IoU']
        for name, indices in self.class_subsets.items():
            with warnings.catch_warnings():
                # A subset without any labelled or predicted pixel is nan.
                warnings.simplefilter('ignore', category=RuntimeWarning)
                value = np.nanmean(iou[list(indices)])
            metrics[name] = np.round(value * 100, 2)
        return metrics
