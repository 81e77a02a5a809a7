"""Training hooks: schedules and state of UDA methods (no losses)."""
from .mean_teacher_hook import MeanTeacherHook

__all__ = ['MeanTeacherHook']
