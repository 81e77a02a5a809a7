"""The exponential-moving-average (mean) teacher of self-training UDA."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS
from torch import Tensor

from ...models.utils import unwrap

STATE_KEY = 'mean_teacher'


@HOOKS.register_module()
class MeanTeacherHook(Hook):
    """Keep ``model.teacher`` an exponential moving average of
    ``model.student``, as DACS and DAFormer do.

    After every ``interval``-th training iteration, with ``k`` the number of
    optimizer steps taken so far (``runner.iter + 1``), each teacher
    parameter becomes::

        alpha_k = min(1 - 1 / (k + 1), momentum)  if warm_up else momentum
        teacher = alpha_k * teacher + (1 - alpha_k) * student

    This is DAFormer's ``_update_ema(local_iter)`` with ``local_iter = k``:
    DAFormer updates at the start of iteration ``k``, from the student after
    ``k`` steps, which is the student this hook sees after iteration
    ``k - 1``. The warm-up ramp (0.5, 0.667, 0.75, ...) lets the teacher
    follow the young student quickly before the average slows to
    ``momentum``.

    Buffers: as in DAFormer, only parameters are averaged. The teacher's
    buffers (BN running statistics, ``num_batches_tracked``) are not
    averaged: the teacher predicts in train mode (batch statistics, like
    DAFormer's EMA model) and its running statistics follow its own forward
    passes. When the teacher is initialised, parameters *and* buffers are
    copied, so it starts as an exact copy of the student.

    Initialisation happens once per run, in ``before_train`` of a fresh run.
    A flag saved in every checkpoint (``meta['mean_teacher']``) tells a
    resumed run (or a run started from such a checkpoint with ``load_from``)
    that the teacher in the checkpoint's state dict is already the average,
    so it is never re-initialised. The hook only holds this schedule: it
    computes no loss.

    Why not mmengine's ``ExponentialMovingAverage``: it cannot give these
    numbers and keep the model's layout. (1) With ``update_buffers=False``
    its ``update_parameters`` copies the source's buffers into the average
    on every update, so the teacher's BN running statistics would become
    the student's; DAFormer (and this hook) average the parameters and
    leave the teacher's buffers to its own forward passes.
    ``update_buffers=True`` averages the running statistics instead, which
    differs too. (2) It averages a deep copy held as its ``module``, with a
    ``steps`` buffer: the teacher's state-dict keys would become
    ``teacher.module.*`` plus ``teacher.steps``, and a checkpoint's teacher
    would be tied to that wrapper. (3) Its ``avg_func`` is a per-parameter
    ``lerp_``, not the ``teacher * alpha + student * (1 - alpha)`` of
    DAFormer's ``_update_ema``, which this hook keeps (in one ``_foreach``
    call per device and dtype); the ramp would also need a subclass. The
    hook therefore keeps its own few lines of averaging.

    Args:
        momentum (float): The averaging weight ``alpha`` of the teacher.
            Defaults to 0.999 (DAFormer's ``alpha``; its base DACS config
            uses 0.99).
        interval (int): Update the teacher every ``interval`` iterations.
            Defaults to 1.
        warm_up (bool): Use ``min(1 - 1 / (k + 1), momentum)`` instead of
            ``momentum``. Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 momentum: float = 0.999,
                 interval: int = 1,
                 warm_up: bool = True) -> None:
        if not 0.0 < momentum < 1.0:
            raise ValueError(
                f'momentum must be in (0, 1), got {momentum}')
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(
                f'interval must be a positive int, got {interval!r}')
        self.momentum = momentum
        self.interval = interval
        self.warm_up = warm_up
        self.initialized = False

    # -- model access --------------------------------------------------------
    @staticmethod
    def student_and_teacher(runner) -> tuple:
        """The (unwrapped) ``student`` and ``teacher`` of the runner's model.

        Raises:
            AttributeError: If the model has no ``student`` or ``teacher``.
        """
        model = unwrap(runner.model)
        for name in ('student', 'teacher'):
            if not isinstance(getattr(model, name, None), nn.Module):
                raise AttributeError(
                    f'MeanTeacherHook needs a model with `student` and '
                    f'`teacher` modules (e.g. DACSUDASegmentor); '
                    f'{type(model).__name__} has no `{name}`')
        return unwrap(model.student), unwrap(model.teacher)

    # -- the maths -----------------------------------------------------------
    def alpha(self, steps: int) -> float:
        """The averaging weight after ``steps`` optimizer steps."""
        if not self.warm_up:
            return self.momentum
        return min(1.0 - 1.0 / (steps + 1), self.momentum)

    @staticmethod
    @torch.no_grad()
    def copy_student(student: nn.Module, teacher: nn.Module) -> None:
        """Make the teacher an exact copy of the student (parameters and
        buffers)."""
        teacher.load_state_dict(student.state_dict())

    @staticmethod
    @torch.no_grad()
    def ema_update(student: nn.Module, teacher: nn.Module,
                   alpha: float) -> None:
        """``teacher = alpha * teacher + (1 - alpha) * student`` for every
        parameter.

        Raises:
            ValueError: If the two modules have different parameters.
        """
        s_params = dict(student.named_parameters())
        t_params = dict(teacher.named_parameters())
        if s_params.keys() != t_params.keys():
            diff = sorted(set(s_params) ^ set(t_params))
            raise ValueError('teacher and student must have the same '
                             f'parameters; they differ in {diff[:5]}')
        # one _foreach operation per step for all parameters of a device
        # and dtype (not one kernel launch per parameter); the arithmetic
        # per element is that of t.mul_(alpha).add_(s, alpha=1 - alpha)
        buckets: Dict[Tuple, Tuple[List[Tensor], List[Tensor]]] = {}
        for name, t_param in t_params.items():
            teachers, students = buckets.setdefault(
                (t_param.device, t_param.dtype), ([], []))
            teachers.append(t_param)
            students.append(s_params[name])  # no_grad: no detach needed
        for teachers, students in buckets.values():
            torch._foreach_mul_(teachers, alpha)
            torch._foreach_add_(teachers, students, alpha=1.0 - alpha)

    # -- hook points ---------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the flag of an initialised teacher from a checkpoint."""
        state = checkpoint.get('meta', {}).get(STATE_KEY, {})
        if state.get('initialized', False):
            self.initialized = True

    def before_train(self, runner) -> None:
        """Copy the student into the teacher at the start of a fresh run."""
        student, teacher = self.student_and_teacher(runner)
        if self.initialized:
            return
        if runner.iter > 0:
            # A resumed checkpoint without the flag: its state dict holds the
            # teacher of that run, which a copy would overwrite.
            print_log(
                f'MeanTeacherHook: resumed at iteration {runner.iter} from a '
                'checkpoint without `meta.mean_teacher`; keeping the loaded '
                'teacher', logger='current')
        else:
            self.copy_student(student, teacher)
        self.initialized = True

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Average the student into the teacher every ``interval`` steps."""
        steps = runner.iter + 1
        if steps % self.interval != 0:
            return
        student, teacher = self.student_and_teacher(runner)
        self.ema_update(student, teacher, self.alpha(steps))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record that the checkpoint's teacher is initialised."""
        checkpoint.setdefault('meta', {})[STATE_KEY] = dict(
            initialized=self.initialized)
