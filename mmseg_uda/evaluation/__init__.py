"""Evaluation components of mmseg_uda (registered in mmseg's registries)."""
from .metrics import EntropyRanker, PseudoLabelGenerator, SubsetIoUMetric
from .target_set_loop import TargetSetLoop

__all__ = [
    'SubsetIoUMetric', 'EntropyRanker', 'PseudoLabelGenerator',
    'TargetSetLoop'
]
