"""Training hooks: schedules and state of UDA methods (no losses)."""
from .broadcast_buffers_hook import BroadcastBuffersHook
from .mean_teacher_hook import MeanTeacherHook
from .self_training_hook import SelfTrainingHook

__all__ = ['BroadcastBuffersHook', 'MeanTeacherHook', 'SelfTrainingHook']
