"""Property tests of the GTA5 / SYNTHIA label converters.

The id -> trainId tables are written out here from the originals, not
imported from the code they check: GTA5 from wasidennis/AdaptSegNet
dataset/gta5_dataset.py (``id_to_trainid``), SYNTHIA from lhoyer/DAFormer
tools/convert_datasets/synthia.py (``id_to_trainid``, whose comments mark
16, 18 and 20 as not present in SYNTHIA).
"""
import os.path as osp
import tempfile

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from mmseg_uda.datasets.label_conversion import (convert_one,
                                                 gta_to_trainids,
                                                 synthia_to_trainids)
from mmseg_uda.datasets.label_maps import (build_lut, convert_gta_label,
                                           convert_synthia_label)

pytestmark = pytest.mark.reliability

GTA_TABLE = dict(
    zip((7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31,
         32, 33), range(19)))
SYNTHIA_TABLE = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10,
    10: 11, 17: 12, 8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18
}
# SYNTHIA ids of terrain, truck and train: absent from the data set
SYNTHIA_ABSENT_IDS = (16, 18, 20)
SYNTHIA_ABSENT_TRAINIDS = (9, 14, 16)
VALID_OUTPUTS = set(range(19)) | {255}

PROPS = settings(max_examples=60, deadline=None, derandomize=True)
FILE_PROPS = settings(max_examples=30, deadline=None, derandomize=True)

shapes = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9)


def id_arrays(dtype, table, low, high):
    """Label maps mixing table ids with arbitrary ids of ``dtype``."""
    ids = st.one_of(st.sampled_from(sorted(table)),
                    st.integers(low, high))
    return hnp.arrays(dtype, shapes, elements=ids)


def expected_trainids(arr, table):
    """Pixel-by-pixel lookup in ``table``, 255 for every other id."""
    out = np.array([table.get(int(v), 255) for v in arr.ravel()],
                   dtype=np.uint8)
    return out.reshape(arr.shape)


def check_conversion(arr, out, table):
    assert out.shape == arr.shape
    assert out.dtype == np.uint8
    assert set(np.unique(out).tolist()) <= VALID_OUTPUTS
    np.testing.assert_array_equal(out, expected_trainids(arr, table))


@PROPS
@given(id_arrays(np.uint8, GTA_TABLE, 0, 255))
def test_gta_matches_the_table(arr):
    check_conversion(arr, convert_gta_label(arr), GTA_TABLE)


@PROPS
@given(st.sampled_from([np.uint16, np.int16, np.int32, np.int64]).flatmap(
    lambda dtype: id_arrays(dtype, GTA_TABLE,
                            int(np.iinfo(dtype).min),
                            int(np.iinfo(dtype).max))))
def test_gta_wide_dtypes_out_of_range_ids_are_ignored(arr):
    # ids below 0 or above 255 are no labelIds: 255, never a wrap-around
    check_conversion(arr, convert_gta_label(arr), GTA_TABLE)


@PROPS
@given(id_arrays(np.uint16, SYNTHIA_TABLE, 0, 65535))
def test_synthia_matches_the_table(arr):
    out = convert_synthia_label(arr)
    check_conversion(arr, out, SYNTHIA_TABLE)
    # terrain, truck and train only come from their (absent) SYNTHIA ids
    from_absent = np.isin(arr, SYNTHIA_ABSENT_IDS)
    np.testing.assert_array_equal(
        np.isin(out, SYNTHIA_ABSENT_TRAINIDS), from_absent)


@PROPS
@given(id_arrays(np.uint16, SYNTHIA_TABLE, 0, 65535))
def test_synthia_ids_of_the_data_never_give_trainids_9_14_16(arr):
    arr = np.where(np.isin(arr, SYNTHIA_ABSENT_IDS), 0, arr).astype(
        np.uint16)
    out = convert_synthia_label(arr)
    assert not np.isin(out, SYNTHIA_ABSENT_TRAINIDS).any()
    # and nothing lost: every other table id still maps to its class
    np.testing.assert_array_equal(out,
                                  expected_trainids(arr, SYNTHIA_TABLE))


@PROPS
@given(st.sampled_from(['gta', 'synthia']).flatmap(
    lambda kind: st.tuples(
        st.just(kind),
        id_arrays(np.uint8, GTA_TABLE, 0, 255) if kind == 'gta' else
        id_arrays(np.uint16, SYNTHIA_TABLE, 0, 65535))), st.randoms())
def test_conversion_is_pixelwise(kind_arr, random):
    kind, arr = kind_arr
    convert = convert_gta_label if kind == 'gta' else convert_synthia_label
    order = list(range(arr.size))
    random.shuffle(order)
    shuffled = arr.ravel()[order].reshape(arr.shape)
    np.testing.assert_array_equal(
        convert(shuffled),
        convert(arr).ravel()[order].reshape(arr.shape))
    # any layout of the same pixels: a flat vector, a transposed view
    np.testing.assert_array_equal(convert(arr.ravel()),
                                  convert(arr).ravel())
    np.testing.assert_array_equal(convert(arr.T), convert(arr).T)


@PROPS
@given(st.integers(1, 300).flatmap(lambda size: st.tuples(
    st.just(size),
    st.dictionaries(st.integers(0, size - 1), st.integers(0, 255),
                    max_size=20),
    st.integers(0, 255))))
def test_build_lut_applies_the_mapping(args):
    size, mapping, default = args
    lut = build_lut(mapping, size, default)
    assert lut.shape == (size, ) and lut.dtype == np.uint8
    expected = [mapping.get(i, default) for i in range(size)]
    assert lut.tolist() == expected


def synthia_png(red, green, blue, alpha):
    """A SYNTHIA-style 16-bit PNG as OpenCV writes it (BGR(A) order)."""
    channels = [blue, green, red] + ([] if alpha is None else [alpha])
    return np.stack(channels, axis=-1).astype(np.uint16)


@FILE_PROPS
@given(
    id_arrays(np.uint16, SYNTHIA_TABLE, 0, 65535).flatmap(
        lambda red: st.tuples(
            st.just(red),
            *[hnp.arrays(np.uint16, red.shape) for _ in range(5)])),
    st.booleans())
def test_synthia_file_uses_the_red_channel_only(arrays, with_alpha):
    red, green1, blue1, green2, blue2, alpha = arrays
    alpha = alpha if with_alpha else None
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for i, (green, blue) in enumerate(((green1, blue1),
                                           (green2, blue2))):
            path = osp.join(tmp, f'{i}.png')
            assert cv2.imwrite(path, synthia_png(red, green, blue, alpha))
            outs.append(synthia_to_trainids(path))
    check_conversion(red, outs[0], SYNTHIA_TABLE)
    np.testing.assert_array_equal(outs[1], outs[0])


@FILE_PROPS
@given(id_arrays(np.uint8, GTA_TABLE, 0, 255), st.booleans(),
       hnp.arrays(np.uint8, (256 * 3, )))
def test_gta_file_reads_palette_indices_not_colours(arr, palette_mode,
                                                    palette):
    with tempfile.TemporaryDirectory() as tmp:
        src = osp.join(tmp, 'label.png')
        img = Image.fromarray(arr)
        if palette_mode:  # GTA5 labels: indices with an arbitrary palette
            img.putpalette(palette.tolist())
            assert img.mode == 'P'
        img.save(src)
        out = gta_to_trainids(src)
        check_conversion(arr, out, GTA_TABLE)
        # the offline converter writes the same map as a PNG, once
        dst = osp.join(tmp, 'label_labelTrainIds.png')
        assert convert_one((src, dst), gta_to_trainids)
        assert not convert_one((src, dst), gta_to_trainids)
        written = cv2.imread(dst, cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint8
    np.testing.assert_array_equal(written, out)
