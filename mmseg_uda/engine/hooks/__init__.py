"""Training hooks: schedules and state of UDA methods (no losses)."""
from .broadcast_buffers_hook import BroadcastBuffersHook
from .keep_own_checkpoints_hook import KeepOwnCheckpointsHook
from .mean_teacher_hook import MeanTeacherHook
from .pseudo_label_rounds_hook import PseudoLabelRoundsHook
from .random_state_hook import RandomStateHook

__all__ = [
    'BroadcastBuffersHook', 'KeepOwnCheckpointsHook', 'MeanTeacherHook',
    'PseudoLabelRoundsHook', 'RandomStateHook'
]
