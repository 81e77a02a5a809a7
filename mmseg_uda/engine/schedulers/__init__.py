"""Parameter schedulers (registered in mmseg's ``PARAM_SCHEDULERS``)."""
from .epoch_linear_decay_lr import EpochLinearDecayLR

__all__ = ['EpochLinearDecayLR']
