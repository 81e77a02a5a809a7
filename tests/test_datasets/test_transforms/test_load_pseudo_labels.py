"""LoadPseudoLabels: labels found by image name, through a target dataset."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from mmseg_uda.datasets.transforms import LoadPseudoLabels
from tests.reference.tiny_layouts import make_cityscapes

STEM = 'tiny_000000_000019'


def _labels(root, value):
    os.makedirs(osp.join(root, 'tiny'), exist_ok=True)
    for i in range(2):
        label = np.full((32, 64), value, np.uint8)
        label[:, :8] = 255
        cv2.imwrite(osp.join(root, 'tiny',
                             f'tiny_{i:06d}_000019_gtFine_labelTrainIds.png'),
                    label)


def _dataset(cs_root, label_dir, optional=False):
    init_default_scope('mmseg')
    return DATASETS.build(dict(
        type='CityscapesDataset', data_root=cs_root,
        data_prefix=dict(img_path='leftImg8bit/train'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadPseudoLabels', label_dir=label_dir,
                 optional=optional),
            dict(type='Resize', scale=(32, 16), keep_ratio=False),
            dict(type='PackSegInputs'),
        ]))


def test_labels_follow_the_directory_or_link(tmp_path):
    cs = str(tmp_path / 'cs')
    make_cityscapes(cs, split='train', num=2)
    _labels(str(tmp_path / 'round_1'), 3)
    _labels(str(tmp_path / 'round_2'), 7)
    link = str(tmp_path / 'current')
    dataset = _dataset(cs, link, optional=True)

    # no link yet: optional labels are absent, the sample has no gt
    assert 'gt_sem_seg' not in dataset[0]['data_samples']
    os.symlink('round_1', link)
    gt = dataset[0]['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 16, 32)
    assert set(gt.unique().tolist()) == {3, 255}
    # switching the link changes what the same dataset object loads
    os.remove(link)
    os.symlink('round_2', link)
    assert set(dataset[1]['data_samples'].gt_sem_seg.data.unique()
               .tolist()) == {7, 255}


def test_missing_directory_or_file_is_an_error(tmp_path):
    cs = str(tmp_path / 'cs')
    make_cityscapes(cs, split='train', num=2)
    with pytest.raises(FileNotFoundError, match='gen_pseudo_labels'):
        _dataset(cs, str(tmp_path / 'none'))[0]
    _labels(str(tmp_path / 'labels'), 1)
    os.remove(osp.join(tmp_path, 'labels', 'tiny',
                       f'{STEM}_gtFine_labelTrainIds.png'))
    with pytest.raises(FileNotFoundError, match=STEM):
        _dataset(cs, str(tmp_path / 'labels'), optional=True)[0]


def test_image_names_must_carry_the_suffix(tmp_path):
    step = LoadPseudoLabels(label_dir=str(tmp_path))
    with pytest.raises(ValueError, match='does not end'):
        step.label_path('/x/aachen/aachen_1.jpg')
