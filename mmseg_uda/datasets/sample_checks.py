"""Checks of a sample right after its image and label are decoded.

Used by :class:`~mmseg_uda.datasets.checked_dataset.CheckedDatasetMixin`
while it runs the pipeline, before any ``Resize`` can hide a problem:

* :func:`check_label_size`: the label must have the image's height and
  width;
* :func:`ignore_unknown_labels`: label values that are no class of the
  dataset (``>= num_classes``) and not the ignore index become the ignore
  index. The offline converters (``tools/dataset_converters``) already map
  every unknown id to 255; this guards hand-made or foreign label files.
"""
from typing import Sequence, Tuple

import numpy as np


class LabelSizeError(ValueError):
    """An image and its label map have different sizes."""


def _hw(shape: Sequence[int]) -> str:
    return 'x'.join(str(int(s)) for s in shape)


def check_label_size(img_hw: Sequence[int],
                     label_shape: Sequence[int]) -> None:
    """Raise if a label is not a single-channel map of its image's size.

    The caller names the files (see
    :func:`~mmseg_uda.datasets.bad_samples.bad_sample_error`).

    Args:
        img_hw (Sequence[int]): ``(h, w)`` of the decoded image.
        label_shape (Sequence[int]): Shape of the decoded label map.

    Raises:
        LabelSizeError: Giving both sizes.
    """
    img_hw = tuple(int(s) for s in img_hw[:2])
    label_shape = tuple(int(s) for s in label_shape)
    if len(label_shape) != 2:
        raise LabelSizeError(
            f'the label has shape {label_shape}, expected a single-channel '
            f'map of the image size {_hw(img_hw)} (HxW)')
    if label_shape != img_hw:
        raise LabelSizeError(
            f'image/label size mismatch: the image is {_hw(img_hw)} (HxW) '
            f'but the label is {_hw(label_shape)}')


def ignore_unknown_labels(label: np.ndarray, num_classes: int,
                          ignore_index: int = 255
                          ) -> Tuple[np.ndarray, int, Tuple[int, ...]]:
    """Set label values outside ``[0, num_classes)`` to ``ignore_index``.

    Args:
        label (np.ndarray): Integer label map; changed in place.
        num_classes (int): Number of classes of the dataset.
        ignore_index (int): Value of ignored pixels. Defaults to 255.

    Returns:
        tuple: The label map, the number of changed pixels and the distinct
        unknown values (sorted).
    """
    unknown = (label != ignore_index) & ((label < 0) |
                                         (label >= num_classes))
    count = int(np.count_nonzero(unknown))
    if not count:
        return label, 0, ()
    values = tuple(int(v) for v in np.unique(label[unknown]))
    label[unknown] = ignore_index
    return label, count, values
