"""Evaluation metrics of mmseg_uda."""
from .subset_iou_metric import SubsetIoUMetric

__all__ = ['SubsetIoUMetric']
