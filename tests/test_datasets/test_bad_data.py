"""Bad samples: undecodable files, label/image size mismatch, unknown label
values, and the skip-and-log mode of our datasets and of
:class:`SourceTargetDataset`."""
import glob
import logging
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from mmseg_uda.datasets.bad_samples import (BadSampleError,
                                            TooManyBadSamplesError)
from mmseg_uda.datasets.gta import GTAVDataset
from mmseg_uda.datasets.source_target_dataset import SourceTargetDataset
from mmseg_uda.datasets.synthia import SynthiaDataset
from tests.reference.tiny_layouts import make_cityscapes, make_gta

pytestmark = pytest.mark.reliability

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # would hide a size mismatch if the check came after it
    dict(type='Resize', scale=(10, 6), keep_ratio=False),
    dict(type='PackSegInputs'),
]
# mmseg's test pipelines resize the image before loading the label
RESIZE_FIRST = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(10, 6), keep_ratio=False),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
TARGET_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='PackSegInputs'),
]
SIZE = (8, 12)  # (h, w) of the tiny images


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmseg')


@pytest.fixture
def warnings():
    """Messages of the warnings logged through mmengine's current logger."""
    messages = []

    class Collect(logging.Handler):

        def emit(self, record):
            if record.levelno >= logging.WARNING:
                messages.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Collect()
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


@pytest.fixture
def gta(tmp_path):
    root = str(tmp_path / 'gta')
    make_gta(root, num=4, size=SIZE, seed=0)
    return root


def _img(root, i):
    return osp.join(root, 'images', f'{i:05d}.png')


def _label(root, i):
    return osp.join(root, 'labels', f'{i:05d}_labelTrainIds.png')


def _gta(root, **kwargs):
    return GTAVDataset(data_root=root, pipeline=PIPELINE, **kwargs)


def _name(sample):
    return osp.basename(sample['data_samples'].img_path)


def test_undecodable_image_names_file_role_and_dataset(gta):
    with open(_img(gta, 1), 'wb') as f:
        f.write(b'not a png')
    ds = _gta(gta)
    assert _name(ds[0]) == '00000.png'
    with pytest.raises(BadSampleError) as err:
        ds[1]
    msg = str(err.value)
    assert f"image {_img(gta, 1)!r}" in msg
    assert f"(label {_label(gta, 1)!r})" in msg
    assert f"GTAVDataset(data_root={gta!r})" in msg
    assert 'sample 1 ' in msg
    assert err.value.__cause__ is not None


def test_undecodable_label_names_the_label(gta):
    with open(_label(gta, 2), 'wb') as f:
        f.write(b'\x89PNG broken')
    with pytest.raises(BadSampleError) as err:
        _gta(gta)[2]
    msg = str(err.value)
    assert f"label {_label(gta, 2)!r} (image {_img(gta, 2)!r})" in msg
    assert 'GTAVDataset' in msg


def test_synthia_undecodable_image(tmp_path):
    root = tmp_path / 'synthia'
    (root / 'RGB').mkdir(parents=True)
    (root / 'GT' / 'LABELS').mkdir(parents=True)
    (root / 'RGB' / '0000001.png').write_bytes(b'junk')
    label = str(root / 'GT' / 'LABELS' / '0000001_labelTrainIds.png')
    assert cv2.imwrite(label, np.zeros(SIZE, np.uint8))
    ds = SynthiaDataset(data_root=str(root), pipeline=PIPELINE)
    with pytest.raises(BadSampleError) as err:
        ds[0]
    msg = str(err.value)
    assert f"image {str(root / 'RGB' / '0000001.png')!r}" in msg
    assert f'SynthiaDataset(data_root={str(root)!r})' in msg


@pytest.mark.parametrize('pipeline', [PIPELINE, RESIZE_FIRST])
def test_size_mismatch_names_both_files_and_sizes(gta, pipeline):
    assert cv2.imwrite(_label(gta, 3), np.zeros((9, 12), np.uint8))
    ds = GTAVDataset(data_root=gta, pipeline=pipeline)
    # matching samples load, also when the image is resized first
    out = ds[0]
    assert tuple(out['data_samples'].gt_sem_seg.shape) == (
        (6, 10) if pipeline is PIPELINE else SIZE)
    with pytest.raises(BadSampleError) as err:
        ds[3]
    msg = str(err.value)
    for part in (_img(gta, 3), _label(gta, 3), 'image is 8x12 (HxW)',
                 'label is 9x12', 'GTAVDataset'):
        assert part in msg


def test_multichannel_label_is_refused(gta):
    assert cv2.imwrite(_label(gta, 0), np.zeros(SIZE + (3, ), np.uint8))
    with pytest.raises(BadSampleError, match='single-channel'):
        _gta(gta)[0]


def test_unknown_label_values_become_ignore(gta, warnings):
    raw = np.random.default_rng(3).integers(0, 19, SIZE, dtype=np.uint8)
    raw[0, :4] = (19, 40, 254, 255)
    raw[1, 0] = 40
    assert cv2.imwrite(_label(gta, 1), raw)
    ds = GTAVDataset(data_root=gta, pipeline=PIPELINE[:2])
    for _ in range(2):
        label = ds[1]['gt_seg_map']
        expected = raw.copy()
        expected[(raw >= 19) & (raw != 255)] = 255
        np.testing.assert_array_equal(label, expected)
    # warned once for the file, with the count and the values
    hits = [m for m in warnings if _label(gta, 1) in m]
    assert len(hits) == 1
    assert '4 pixel(s)' in hits[0] and '[19, 40, 254]' in hits[0]
    # a label inside the class range is left alone, without a warning
    clean = cv2.imread(_label(gta, 0), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(ds[0]['gt_seg_map'], clean)
    assert not [m for m in warnings if _label(gta, 0) in m]


def test_skip_mode_logs_counts_and_replaces(gta, warnings):
    with open(_img(gta, 1), 'wb') as f:
        f.write(b'junk')
    ds = _gta(gta, bad_samples='skip', max_bad_samples=1)
    np.random.seed(0)
    names = [_name(ds[i]) for i in range(4)]
    assert names[0] == '00000.png'
    assert names[2:] == ['00002.png', '00003.png']
    assert names[1] != '00001.png'
    assert ds.bad_sample_tracker.count == 1
    hits = [m for m in warnings if _img(gta, 1) in m]
    assert hits and 'skipping bad sample' in hits[0]
    # a second bad file is more than max_bad_samples=1 tolerates
    assert cv2.imwrite(_label(gta, 2), np.zeros((3, 3), np.uint8))
    with pytest.raises(TooManyBadSamplesError) as err:
        for _ in range(200):
            ds[2]
    assert _label(gta, 2) in str(err.value)
    assert 'max_bad_samples=1' in str(err.value)


def test_skip_mode_fraction_stops_a_broken_dataset(gta):
    for i in range(4):
        with open(_img(gta, i), 'wb') as f:
            f.write(b'junk')
    ds = _gta(gta, bad_samples='skip', max_bad_samples=0.5)
    np.random.seed(0)
    with pytest.raises(TooManyBadSamplesError, match='3 of the 4 samples'):
        ds[0]
    assert ds.bad_sample_tracker.count == 3


def test_skip_mode_raises_in_test_mode(gta):
    with open(_img(gta, 0), 'wb') as f:
        f.write(b'junk')
    ds = _gta(gta, bad_samples='skip', max_bad_samples=3, test_mode=True)
    with pytest.raises(BadSampleError, match='00000.png'):
        ds[0]


@pytest.mark.parametrize('kwargs', [
    dict(bad_samples='ignore'),
    dict(bad_samples='skip', max_bad_samples=1.5),
    dict(bad_samples='skip', max_bad_samples=-1),
    dict(bad_samples='skip', max_bad_samples=True),
])
def test_invalid_options(gta, kwargs):
    with pytest.raises(ValueError, match='bad_samples'):
        _gta(gta, **kwargs)


@pytest.fixture
def pair(gta, tmp_path):
    cs = str(tmp_path / 'cityscapes')
    make_cityscapes(cs, split='train', num=3, size=SIZE, seed=1)
    images = sorted(glob.glob(osp.join(cs, 'leftImg8bit', 'train', '*',
                                       '*.png')))
    with open(images[1], 'wb') as f:
        f.write(b'junk')
    return gta, cs, images


def _pair(gta, cs, **kwargs):
    return SourceTargetDataset(
        dict(type='GTAVDataset', data_root=gta, pipeline=PIPELINE),
        dict(type='CityscapesDataset', data_root=cs,
             data_prefix=dict(img_path='leftImg8bit/train'),
             pipeline=TARGET_PIPELINE), **kwargs)


def test_pair_names_domain_dataset_and_file(pair):
    gta, cs, images = pair
    ds = _pair(gta, cs)
    assert set(ds[0]) == {'source', 'target'}
    with pytest.raises(BadSampleError) as err:
        ds[1]  # source 0, target 1
    msg = str(err.value)
    assert 'target sample 1 of ' in msg
    assert f'CityscapesDataset(data_root={cs!r})' in msg
    assert f'image {images[1]!r}' in msg
    with open(_label(gta, 2), 'wb') as f:
        f.write(b'junk')
    with pytest.raises(BadSampleError) as err:
        ds[2 * 3]  # source 2, target 0
    msg = str(err.value)
    assert 'source sample 2 of ' in msg
    assert f'GTAVDataset(data_root={gta!r})' in msg
    assert f'label {_label(gta, 2)!r}' in msg


def test_pair_skip_mode_per_domain(pair, warnings):
    gta, cs, images = pair
    ds = _pair(gta, cs, bad_samples='skip', max_bad_samples=1)
    np.random.seed(0)
    for t in range(3):
        item = ds[t]
        assert _name(item['source']) == '00000.png'
        name = osp.basename(item['target']['data_samples'].img_path)
        assert name != osp.basename(images[1])
    assert ds.bad_sample_trackers['target'].count == 1
    assert ds.bad_sample_trackers['source'].count == 0
    assert any(images[1] in m and 'target sample 1' in m for m in warnings)
    # a second bad target image is one too many
    with open(images[2], 'wb') as f:
        f.write(b'junk')
    with pytest.raises(TooManyBadSamplesError, match='target'):
        for _ in range(100):
            ds[2]


def test_error_names_the_file_actually_read(gta, tmp_path):
    """A transform in front may redirect the paths (e.g. into a resized
    cache): the error names the file that failed to decode."""
    junk = str(tmp_path / 'cache' / '00000.png')
    os.makedirs(osp.dirname(junk))
    with open(junk, 'wb') as f:
        f.write(b'junk')

    def redirect(results):
        results['img_path'] = junk
        return results

    ds = GTAVDataset(data_root=gta, pipeline=[redirect] + PIPELINE)
    with pytest.raises(BadSampleError) as err:
        ds[0]
    assert f'image {junk!r}' in str(err.value)
    assert _img(gta, 0) not in str(err.value)
