"""Data transforms of mmseg_uda (registered in mmseg's ``TRANSFORMS``)."""
from .load_pseudo_labels import LoadPseudoLabels

__all__ = ['LoadPseudoLabels']
