"""Data transforms of mmseg_uda (registered in mmseg's ``TRANSFORMS``)."""
from .load_pseudo_labels import LoadPseudoLabels
from .pseudo_label_margins import PackUDASegInputs, PseudoLabelMargins
from .scale_width import ScaleWidth

__all__ = [
    'LoadPseudoLabels', 'PackUDASegInputs', 'PseudoLabelMargins', 'ScaleWidth'
]
