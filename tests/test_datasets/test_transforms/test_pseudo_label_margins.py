"""PseudoLabelMargins + PackUDASegInputs: HRDA's loader-side pseudo-label
margins through a real mmseg pipeline, against a re-statement of the
original (tests/reference/hrda_margins.py)."""
import functools

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, TRANSFORMS

from mmseg_uda.datasets.source_target_dataset import SourceTargetDataset
from mmseg_uda.datasets.transforms import PackUDASegInputs, PseudoLabelMargins
from mmseg_uda.models.data_preprocessors.uda_data_preprocessor import \
    UDASegDataPreProcessor
from mmseg_uda.models.utils.pseudo_weight_crop import stack_valid_pseudo_masks
from tests.reference.hrda_margins import (HRDA_MARGINS, VALID_MASK_SIZE,
                                          ref_crop_then_flip,
                                          ref_pre_pipeline_mask)
from tests.reference.tiny_layouts import make_cityscapes, make_gta


def test_hrda_margins_and_mask_size():
    # lhoyer/MIC seg/configs/hrda/gtaHR2csHR_hrda.py:
    # target=dict(crop_pseudo_margins=[30, 240, 30, 30]);
    # seg/mmseg/datasets/cityscapes.py: valid_mask_size = [1024, 2048]
    assert HRDA_MARGINS == [30, 240, 30, 30]
    assert VALID_MASK_SIZE == [1024, 2048]


@functools.lru_cache(maxsize=4)
def coordinate_image(height: int, width: int) -> np.ndarray:
    """A uint8 image (H, W, 3) whose pixels encode their coordinates (up to
    2048x2048): y % 256, x % 256, (y // 256) * 8 + x // 256 (read-only:
    cached)."""
    y, x = np.mgrid[:height, :width]
    img = np.stack([y % 256, x % 256, (y // 256) * 8 + x // 256],
                   axis=-1).astype(np.uint8)
    img.flags.writeable = False
    return img


def decode(inputs) -> tuple:
    """The coordinates (y, x) of each pixel of a packed coordinate image."""
    img = inputs.numpy().astype(np.int64)
    return (img[2] // 8) * 256 + img[0], (img[2] % 8) * 256 + img[1]


def crop_and_flip_of(inputs) -> tuple:
    """The crop box (y1, y2, x1, x2) and flip direction that made the
    packed image out of the coordinate image, in the original's order
    (crop, then flip)."""
    y, x = decode(inputs)
    h, w = y.shape
    flip_h, flip_v = x[0, 0] > x[0, -1], y[0, 0] > y[-1, 0]
    direction = {(False, False): None, (True, False): 'horizontal',
                 (False, True): 'vertical',
                 (True, True): 'diagonal'}[(flip_h, flip_v)]
    box = (y.min(), y.min() + h, x.min(), x.min() + w)
    return box, direction


def flip(array: np.ndarray, direction) -> np.ndarray:
    """Flip the last two axes as mmcv's ``imflip`` does the image's."""
    if direction in ('horizontal', 'diagonal'):
        array = array[..., ::-1]
    if direction in ('vertical', 'diagonal'):
        array = array[..., ::-1, :]
    return array


def run_pipeline(img: np.ndarray, margins, crop_size, seed: int,
                 scale=None, directions='horizontal', original_order=False):
    """``[Resize,] RandomFlip, PseudoLabelMargins, RandomCrop,
    PackUDASegInputs`` on ``img`` (the load skipped), numpy seeded; with
    ``original_order`` the original's ``[Resize,] PseudoLabelMargins,
    RandomCrop, RandomFlip``."""
    init_default_scope('mmseg')
    steps = []
    if scale is not None:
        steps.append(dict(type='Resize', scale=scale, keep_ratio=True))
    flip = dict(type='RandomFlip', prob=0.5, direction=directions)
    crop = [dict(type='PseudoLabelMargins', margins=margins),
            dict(type='RandomCrop', crop_size=crop_size)]
    steps += crop + [flip] if original_order else [flip] + crop
    steps.append(dict(type='PackUDASegInputs'))
    pipeline = Compose([TRANSFORMS.build(step) for step in steps])
    np.random.seed(seed)
    return pipeline(dict(img=img.copy(), img_shape=img.shape[:2],
                         ori_shape=img.shape[:2], seg_fields=[]))


def check_against_original(packed, margins, size) -> tuple:
    """Compare the packed mask with the original's mask of ``size``,
    cropped and flipped as the packed image was; return the box and the
    flip direction."""
    inputs, sample = packed['inputs'], packed['data_samples']
    box, direction = crop_and_flip_of(inputs)
    assert direction == sample.flip_direction
    # the recovered box and flip do make the packed image
    coords = coordinate_image(*size).transpose(2, 0, 1)
    y1, y2, x1, x2 = box
    assert np.array_equal(flip(coords[:, y1:y2, x1:x2], direction),
                          inputs.numpy())
    mask = sample.valid_pseudo_mask.data
    assert mask.dtype.is_floating_point is False and mask.dim() == 3
    if direction in (None, 'horizontal'):  # the original flips horizontally
        expected = ref_crop_then_flip(ref_pre_pipeline_mask(margins, size),
                                      box, direction == 'horizontal')
    else:
        expected = flip(ref_pre_pipeline_mask(margins, size)[None,
                                                             y1:y2, x1:x2],
                        direction)
    assert np.array_equal(mask.numpy(), expected)
    return box, direction


def test_hrda_margins_on_cityscapes_crops_equal_the_original():
    """A 2048x1024 image (Resize to 2048x1024 keeps it, as in HRDA), 1024x1024
    crops: the packed mask equals HRDA's [1024, 2048] mask cropped and
    flipped like the image, for many seeds, flipped and not."""
    img = coordinate_image(*VALID_MASK_SIZE)
    flips, touched = set(), set()
    for seed in range(48):
        packed = run_pipeline(img, HRDA_MARGINS, (1024, 1024), seed,
                              scale=(2048, 1024))
        box, direction = check_against_original(packed, HRDA_MARGINS,
                                                VALID_MASK_SIZE)
        flips.add(direction)
        mask = packed['data_samples'].valid_pseudo_mask.data[0]
        assert mask.shape == (1024, 1024)
        # top and bottom margins are in every crop of the full height
        assert (mask[:30] == 0).all() and (mask[-240:] == 0).all()
        assert mask[30:-240].any()
        if box[2] < 30:
            touched.add('left')
        if box[3] > 2048 - 30:
            touched.add('right')
    assert flips == {None, 'horizontal'}
    assert touched == {'left', 'right'}  # the side margins are exercised


@pytest.mark.parametrize('directions,original_order', [
    ('horizontal', False), (['horizontal', 'vertical', 'diagonal'], False),
    (['horizontal', 'vertical', 'diagonal'], True)])
def test_unequal_margins_stay_on_their_side_of_the_image(
        directions, original_order):
    """Four different margins on a small image, small crops that often
    touch the borders, every flip direction of RandomFlip; the mask is
    right also where the flip comes after the crop, as in HRDA's pipeline
    (mmseg's RandomFlip flips every seg field)."""
    margins = [3, 7, 2, 9]
    size = (40, 60)
    img = coordinate_image(*size)
    seen = set()
    for seed in range(60):
        packed = run_pipeline(img, margins, (16, 24), seed,
                              directions=directions,
                              original_order=original_order)
        _, direction = check_against_original(packed, margins, size)
        seen.add(direction)
    expected = {None, 'horizontal'} if directions == 'horizontal' else \
        {None, 'horizontal', 'vertical', 'diagonal'}
    assert seen == expected


def test_margins_are_in_pixels_of_the_resized_image():
    img = coordinate_image(20, 30)
    init_default_scope('mmseg')
    pipeline = Compose([TRANSFORMS.build(step) for step in [
        dict(type='Resize', scale=(60, 40), keep_ratio=False),
        dict(type='PseudoLabelMargins', margins=[4, 0, 0, 5]),
        dict(type='PackUDASegInputs')]])
    mask = pipeline(dict(img=img))['data_samples'].valid_pseudo_mask.data
    assert mask.shape == (1, 40, 60)
    expected = np.ones((40, 60), np.uint8)
    expected[:4] = 0
    expected[:, -5:] = 0
    assert np.array_equal(mask[0].numpy(), expected)


def test_zero_margins_mask_nothing_and_large_ones_everything():
    img = np.zeros((8, 10, 3), np.uint8)
    # a zero margin must not turn into the slice [-0:] (the whole image)
    ones = PseudoLabelMargins([0, 0, 0, 0])(dict(img=img))
    assert ones['valid_pseudo_mask'].all()
    assert ones['valid_pseudo_mask'].dtype == np.uint8
    zeros = PseudoLabelMargins([5, 5, 0, 0])(dict(img=img))
    assert not zeros['valid_pseudo_mask'].any()
    wide = PseudoLabelMargins([0, 0, 0, 30])(dict(img=img))
    assert not wide['valid_pseudo_mask'].any()


def test_the_mask_is_a_seg_field_once():
    img = np.zeros((8, 10, 3), np.uint8)
    results = PseudoLabelMargins([1, 1, 1, 1])(
        dict(img=img, seg_fields=['gt_seg_map']))
    results = PseudoLabelMargins([1, 1, 1, 1])(results)
    assert results['seg_fields'] == ['gt_seg_map', 'valid_pseudo_mask']


def test_without_margins_packing_is_plain_packseginputs():
    init_default_scope('mmseg')
    results = dict(img=np.zeros((8, 10, 3), np.uint8),
                   gt_seg_map=np.ones((8, 10), np.uint8), img_shape=(8, 10))
    ours = PackUDASegInputs()(dict(results))
    plain = TRANSFORMS.build(dict(type='PackSegInputs'))(dict(results))
    assert 'valid_pseudo_mask' not in ours['data_samples']
    assert set(ours['data_samples'].keys()) == set(
        plain['data_samples'].keys())
    assert ours['data_samples'].metainfo == plain['data_samples'].metainfo
    assert (ours['inputs'] == plain['inputs']).all()


@pytest.mark.parametrize('margins', [
    [30, 240, 30], [30, 240, 30, 30, 0], [-1, 0, 0, 0], [1.5, 0, 0, 0],
    [True, 0, 0, 0], '30', None, 30])
def test_bad_margins_are_refused_naming_the_key(margins):
    init_default_scope('mmseg')
    with pytest.raises(ValueError, match='margins must be four integers'):
        TRANSFORMS.build(dict(type='PseudoLabelMargins', margins=margins))


def test_a_resize_after_the_margins_is_caught_when_packing():
    """mmcv's own Resize (unlike mmseg's) leaves extra seg fields as they
    are: after the margins it would leave the mask at the old size."""
    init_default_scope('mmseg')
    pipeline = Compose([TRANSFORMS.build(step) for step in [
        dict(type='PseudoLabelMargins', margins=[1, 1, 1, 1]),
        dict(type='mmcv.Resize', scale=(20, 16), keep_ratio=False),
        dict(type='PackUDASegInputs')]])
    with pytest.raises(ValueError, match='valid_pseudo_mask has the size'):
        pipeline(dict(img=np.zeros((8, 10, 3), np.uint8)))


def test_a_cityscapes_dataset_packs_the_mask(tmp_path):
    root = str(tmp_path / 'cs')
    make_cityscapes(root, split='train', num=1, size=(32, 64))
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='CityscapesDataset', data_root=root,
        data_prefix=dict(img_path='leftImg8bit/train'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(128, 64), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PseudoLabelMargins', margins=[2, 15, 2, 2]),
            dict(type='RandomCrop', crop_size=(64, 64)),
            dict(type='PackUDASegInputs'),
        ]))
    sample = dataset[0]
    mask = sample['data_samples'].valid_pseudo_mask.data
    assert sample['inputs'].shape == (3, 64, 64)
    assert mask.shape == (1, 64, 64) and mask.dtype.itemsize == 1
    assert (mask[0, :2] == 0).all() and (mask[0, -15:] == 0).all()
    assert (mask[0, 2:-15] == 1).any()


def test_the_mask_reaches_the_model_through_the_paired_loader(tmp_path):
    """SourceTargetDataset passes the target's mask on (the original's
    uda_dataset.py does so by hand); collated and preprocessed, the model
    stacks it at the input size."""
    gta, cs = str(tmp_path / 'gta'), str(tmp_path / 'cs')
    make_gta(gta, num=1, size=(32, 64), seed=0)
    make_cityscapes(cs, split='train', num=2, size=(32, 64), seed=1)
    init_default_scope('mmseg')
    dataset = SourceTargetDataset(
        dict(type='GTAVDataset', data_root=gta, pipeline=[
            dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='RandomCrop', crop_size=(32, 32)),
            dict(type='PackSegInputs')]),
        dict(type='CityscapesDataset', data_root=cs,
             data_prefix=dict(img_path='leftImg8bit/train'), pipeline=[
                 dict(type='LoadImageFromFile'),
                 dict(type='RandomFlip', prob=0.5),
                 dict(type='PseudoLabelMargins', margins=[2, 6, 3, 3]),
                 dict(type='RandomCrop', crop_size=(32, 32)),
                 dict(type='PackUDASegInputs')]))
    batch = pseudo_collate([dataset[0], dataset[1]])
    data = UDASegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1],
                                  size_divisor=1)(batch, training=True)
    target = data['target']
    masks = stack_valid_pseudo_masks(target['data_samples'],
                                     target['inputs'].shape[2:])
    assert masks.shape == (2, 32, 32) and masks.dtype == torch.bool
    assert not masks[:, :2].any() and not masks[:, -6:].any()
    assert masks[:, 2:-6].any()
    assert 'valid_pseudo_mask' not in data['source']['data_samples'][0]
