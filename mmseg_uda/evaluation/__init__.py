"""Evaluation components of mmseg_uda (registered in mmseg's registries)."""
from .metrics import SubsetIoUMetric

__all__ = ['SubsetIoUMetric']
