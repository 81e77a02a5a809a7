"""Evaluation components of mmseg_uda (registered in mmseg's registries)."""
from .metrics import PseudoLabelGenerator, SubsetIoUMetric
from .pseudo_label_job import generate_pseudo_labels

__all__ = [
    'SubsetIoUMetric', 'PseudoLabelGenerator', 'generate_pseudo_labels'
]
