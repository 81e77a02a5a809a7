"""Evaluation metrics of mmseg_uda."""
from .entropy_ranker import EntropyRanker
from .pseudo_label_generator import PseudoLabelGenerator
from .subset_iou_metric import SubsetIoUMetric

__all__ = ['SubsetIoUMetric', 'EntropyRanker', 'PseudoLabelGenerator']
