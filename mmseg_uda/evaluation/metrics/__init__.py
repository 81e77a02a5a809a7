"""Evaluation metrics of mmseg_uda."""
from .entropy_ranker import EntropyRanker, ImgShapeAsOriShape
from .subset_iou_metric import SubsetIoUMetric

__all__ = ['SubsetIoUMetric', 'EntropyRanker', 'ImgShapeAsOriShape']
