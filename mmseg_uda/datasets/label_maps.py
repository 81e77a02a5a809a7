"""Label-id to trainId maps for the synthetic source domains.

Everything here is pure numpy so that it can be used by the offline converters
(``tools/dataset_converters``) as well as by tests, without importing mmseg.

Both source datasets are mapped onto the 19 Cityscapes training classes
(``road`` = 0 ... ``bicycle`` = 18); every id that is not listed maps to the
ignore index 255.
"""
from typing import Mapping

import numpy as np

IGNORE_INDEX = 255

# Cityscapes labelIds of the 19 evaluated classes, in trainId order.
_CITYSCAPES_EVAL_LABEL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25,
                              26, 27, 28, 31, 32, 33)

#: GTA5 labels store Cityscapes labelIds: labelId -> trainId.
GTA_ID_TO_TRAINID: dict = {
    label_id: train_id
    for train_id, label_id in enumerate(_CITYSCAPES_EVAL_LABEL_IDS)
}

#: SYNTHIA-RAND-CITYSCAPES class id (red channel of ``GT/LABELS``) -> trainId.
SYNTHIA_ID_TO_TRAINID: dict = {
    3: 0,  # road
    4: 1,  # sidewalk
    2: 2,  # building
    21: 3,  # wall
    5: 4,  # fence
    7: 5,  # pole
    15: 6,  # traffic light
    9: 7,  # traffic sign
    6: 8,  # vegetation
    16: 9,  # terrain (never occurs in SYNTHIA)
    1: 10,  # sky
    10: 11,  # person
    17: 12,  # rider
    8: 13,  # car
    18: 14,  # truck (never occurs in SYNTHIA)
    19: 15,  # bus
    20: 16,  # train (never occurs in SYNTHIA)
    12: 17,  # motorcycle
    11: 18,  # bicycle
}

#: trainIds evaluated for SYNTHIA mIoU16: all but terrain (9), truck (14) and
#: train (16).
SYNTHIA_16_CLASSES: tuple = tuple(i for i in range(19) if i not in (9, 14, 16))

#: trainIds evaluated for SYNTHIA mIoU13: mIoU16 without wall (3), fence (4)
#: and pole (5).
SYNTHIA_13_CLASSES: tuple = tuple(i for i in SYNTHIA_16_CLASSES
                                  if i not in (3, 4, 5))


def build_lut(mapping: Mapping[int, int],
              size: int,
              default: int = IGNORE_INDEX) -> np.ndarray:
    """Build a lookup table that applies ``mapping`` by fancy indexing.

    Args:
        mapping (Mapping[int, int]): Source id -> target id. Source ids must
            lie in ``[0, size)`` and target ids in ``[0, 255]``.
        size (int): Length of the table, i.e. one more than the largest source
            id that can occur (256 for 8-bit labels, 65536 for 16-bit labels).
        default (int): Value of every id absent from ``mapping``.
            Defaults to 255.

    Returns:
        np.ndarray: ``uint8`` array of shape ``(size,)``.

    Raises:
        ValueError: If a source id or a target id is out of range.
    """
    if size <= 0:
        raise ValueError(f'size must be positive, got {size}')
    if not 0 <= default <= 255:
        raise ValueError(f'default must be in [0, 255], got {default}')
    lut = np.full(size, default, dtype=np.uint8)
    for src, dst in mapping.items():
        if not 0 <= src < size:
            raise ValueError(f'source id {src} is outside [0, {size})')
        if not 0 <= dst <= 255:
            raise ValueError(f'target id {dst} (for source id {src}) is '
                             'outside [0, 255]')
        lut[src] = dst
    return lut


def _apply_lut(arr: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map every element of the integer array ``arr`` through ``lut``.

    Values outside the table (negative or ``>= len(lut)``) become 255.
    """
    arr = np.asarray(arr)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f'label ids must be integers, got dtype {arr.dtype}')
    if arr.dtype.kind == 'u' and np.iinfo(arr.dtype).max < lut.size:
        return lut[arr]
    out = np.full(arr.shape, IGNORE_INDEX, dtype=np.uint8)
    valid = (arr >= 0) & (arr < lut.size)
    out[valid] = lut[arr[valid]]
    return out


_GTA_LUT = build_lut(GTA_ID_TO_TRAINID, 256)
_GTA_LUT.setflags(write=False)
_SYNTHIA_LUT = build_lut(SYNTHIA_ID_TO_TRAINID, 65536)
_SYNTHIA_LUT.setflags(write=False)


def convert_gta_label(arr: np.ndarray) -> np.ndarray:
    """Convert a GTA5 label map (Cityscapes labelIds) to trainIds.

    Args:
        arr (np.ndarray): Integer array of Cityscapes labelIds (the palette
            indices of a GTA5 label PNG), any shape.

    Returns:
        np.ndarray: ``uint8`` trainIds of the same shape, 255 for ignored ids.
    """
    return _apply_lut(arr, _GTA_LUT)


def convert_synthia_label(arr16: np.ndarray) -> np.ndarray:
    """Convert a SYNTHIA class-id map to trainIds.

    Args:
        arr16 (np.ndarray): Integer array (normally the ``uint16`` HxW class-id
            channel of a ``GT/LABELS`` PNG), values up to 65535.

    Returns:
        np.ndarray: ``uint8`` trainIds of the same shape, 255 for ignored ids.
    """
    return _apply_lut(arr16, _SYNTHIA_LUT)
