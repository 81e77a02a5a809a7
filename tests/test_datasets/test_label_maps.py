"""Tests of the GTA5 / SYNTHIA label maps."""
import numpy as np
import pytest

from mmseg_uda.datasets.label_maps import (GTA_ID_TO_TRAINID,
                                           SYNTHIA_13_CLASSES,
                                           SYNTHIA_16_CLASSES,
                                           SYNTHIA_ID_TO_TRAINID, build_lut,
                                           convert_gta_label,
                                           convert_synthia_label)

# Written out independently of the implementation, from the originals:
# GTA5 labelIds -> trainIds as wasidennis/AdaptSegNet dataset/gta5_dataset.py
# (``id_to_trainid``); SYNTHIA-RAND-CITYSCAPES ids (red channel) -> trainIds
# as lhoyer/DAFormer tools/convert_datasets/synthia.py (``id_to_trainid``).
EXPECTED_GTA = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}
EXPECTED_SYNTHIA = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10,
    10: 11, 17: 12, 8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18
}


def test_gta_mapping_constant():
    assert GTA_ID_TO_TRAINID == EXPECTED_GTA


def test_synthia_mapping_constant():
    assert SYNTHIA_ID_TO_TRAINID == EXPECTED_SYNTHIA


@pytest.mark.parametrize('label_id,train_id', sorted(EXPECTED_GTA.items()))
def test_convert_gta_every_id(label_id, train_id):
    arr = np.full((2, 3), label_id, dtype=np.uint8)
    out = convert_gta_label(arr)
    assert out.dtype == np.uint8
    assert out.shape == (2, 3)
    assert (out == train_id).all()


@pytest.mark.parametrize('label_id', [0, 1, 4, 6, 9, 10, 14, 15, 16, 18, 29,
                                      30, 34, 100, 254, 255])
def test_convert_gta_ignored_ids(label_id):
    out = convert_gta_label(np.array([[label_id]], dtype=np.uint8))
    assert out.tolist() == [[255]]


def test_convert_gta_mixed_array_and_wide_dtype():
    arr = np.array([[7, 0, 33], [26, 255, 8]], dtype=np.uint8)
    assert convert_gta_label(arr).tolist() == [[0, 255, 18], [13, 255, 1]]
    wide = np.array([[7, 300, -1, 33]], dtype=np.int32)
    assert convert_gta_label(wide).tolist() == [[0, 255, 255, 18]]


@pytest.mark.parametrize('label_id,train_id',
                         sorted(EXPECTED_SYNTHIA.items()))
def test_convert_synthia_every_id(label_id, train_id):
    arr = np.full((3, 2), label_id, dtype=np.uint16)
    out = convert_synthia_label(arr)
    assert out.dtype == np.uint8
    assert out.shape == (3, 2)
    assert (out == train_id).all()


@pytest.mark.parametrize('label_id', [0, 13, 14, 22, 255, 256, 1000, 4099,
                                      65535])
def test_convert_synthia_ignored_ids(label_id):
    out = convert_synthia_label(np.array([[label_id]], dtype=np.uint16))
    assert out.tolist() == [[255]]


def test_convert_synthia_mixed_array():
    arr = np.array([[3, 65535, 11], [0, 21, 258]], dtype=np.uint16)
    assert convert_synthia_label(arr).tolist() == [[0, 255, 18], [255, 3, 255]]


def test_convert_rejects_float():
    with pytest.raises(TypeError):
        convert_gta_label(np.zeros((2, 2), dtype=np.float32))


def test_subsets_exact_contents():
    assert SYNTHIA_16_CLASSES == (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13,
                                  15, 17, 18)
    assert SYNTHIA_13_CLASSES == (0, 1, 2, 6, 7, 8, 10, 11, 12, 13, 15, 17,
                                  18)
    assert len(SYNTHIA_16_CLASSES) == 16
    assert len(SYNTHIA_13_CLASSES) == 13


def test_build_lut():
    lut = build_lut({1: 5, 3: 0}, 6)
    assert lut.dtype == np.uint8
    assert lut.tolist() == [255, 5, 255, 0, 255, 255]
    assert build_lut({}, 3, default=7).tolist() == [7, 7, 7]
    with pytest.raises(ValueError, match='source id 6'):
        build_lut({6: 1}, 6)
    with pytest.raises(ValueError, match='target id 256'):
        build_lut({0: 256}, 6)
