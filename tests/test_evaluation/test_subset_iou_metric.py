"""Tests of :class:`mmseg_uda.evaluation.SubsetIoUMetric`."""
import math

import pytest
import torch
from mmseg.registry import METRICS

from mmseg_uda.evaluation import SubsetIoUMetric

CLASSES = ('a', 'b', 'c', 'd')

# (label, pred) pixels. Per class (intersection, union):
#   0: label 4 px, 3 predicted 0, 1 predicted 1; plus 2 px of class 2
#      predicted 0 -> I=3, U=4+5-3=6, IoU=1/2, Acc=3/4
#   1: label 2 px, both predicted 1; 1 px of class 0 predicted 1
#      -> I=2, U=2+3-2=3, IoU=2/3, Acc=1
#   2: label 2 px, none predicted 2 -> I=0, U=2, IoU=0, Acc=0
#   3: never labelled nor predicted (the ignored pixels predict 3)
#      -> IoU=nan, Acc=nan
# aAcc = 5/8; mIoU = (1/2 + 2/3 + 0)/3 = 7/18; mAcc = (3/4 + 1 + 0)/3 = 7/12
PIXELS = [(0, 0), (0, 0), (0, 0), (0, 1), (1, 1), (1, 1), (2, 0), (2, 0),
          (255, 3), (255, 3)]


def _sample(pixels):
    label = torch.tensor([[p[0] for p in pixels]])
    pred = torch.tensor([[p[1] for p in pixels]])
    return dict(
        pred_sem_seg=dict(data=pred[None]), gt_sem_seg=dict(data=label[None]))


def _evaluate(metric, n_images=2):
    metric.dataset_meta = dict(classes=CLASSES)
    step = math.ceil(len(PIXELS) / n_images)
    for i in range(0, len(PIXELS), step):
        metric.process({}, [_sample(PIXELS[i:i + step])])
    return metric.compute_metrics(metric.results)


def test_subset_means():
    metric = SubsetIoUMetric(
        class_subsets=dict(s01=[0, 1], s13=(1, 3), s3=[3], s02=[0, 2]))
    res = _evaluate(metric)
    assert res['aAcc'] == pytest.approx(62.5)
    assert res['mIoU'] == pytest.approx(38.89)  # 100 * 7/18
    assert res['mAcc'] == pytest.approx(58.33)  # 100 * 7/12
    assert res['s01'] == pytest.approx(58.33)  # (1/2 + 2/3) / 2
    assert res['s13'] == pytest.approx(66.67)  # nan ignored
    assert math.isnan(res['s3'])
    assert res['s02'] == pytest.approx(25.0)
    assert set(res) == {'aAcc', 'mIoU', 'mAcc', 's01', 's13', 's3', 's02'}


def test_single_image_equals_two_images():
    subsets = dict(s01=[0, 1], s13=[1, 3])
    one = _evaluate(SubsetIoUMetric(class_subsets=subsets), n_images=1)
    two = _evaluate(SubsetIoUMetric(class_subsets=subsets), n_images=2)
    assert one == pytest.approx(two)


def test_nan_to_num():
    metric = SubsetIoUMetric(class_subsets=dict(s13=[1, 3]), nan_to_num=0)
    res = _evaluate(metric)
    assert res['s13'] == pytest.approx(33.33)  # (2/3 + 0) / 2
    assert res['mIoU'] == pytest.approx(29.17)  # (1/2 + 2/3 + 0 + 0) / 4


def test_registered():
    metric = METRICS.build(
        dict(type='SubsetIoUMetric', class_subsets=dict(s=[0])))
    assert isinstance(metric, SubsetIoUMetric)
    assert _evaluate(metric)['s'] == pytest.approx(50.0)


def test_index_out_of_range():
    metric = SubsetIoUMetric(class_subsets=dict(mIoU16=[0, 4, 18]))
    with pytest.raises(ValueError, match=r"'mIoU16'.*\[4, 18\].*4 classes"):
        metric.dataset_meta = dict(classes=CLASSES)


@pytest.mark.parametrize('subsets,match', [
    (dict(s=[]), 'empty'),
    (dict(s=[0, 0]), 'duplicate'),
    (dict(s=[-1]), 'non-negative'),
    (dict(s=[1.0]), 'non-negative'),
    (dict(mIoU=[0]), 'collides'),
])
def test_invalid_subsets(subsets, match):
    with pytest.raises(ValueError, match=match):
        SubsetIoUMetric(class_subsets=subsets)
