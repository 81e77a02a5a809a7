"""Test-only hooks that inject faults into a training run."""
import time

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


class InjectedFault(RuntimeError):
    """The error :class:`RaiseOnRankHook` raises."""


@HOOKS.register_module()
class RaiseOnRankHook(Hook):
    """Raises :class:`InjectedFault` on one rank before one iteration.

    Args:
        rank (int): The rank that fails.
        iteration (int): The 1-based training iteration it fails at.
    """

    def __init__(self, rank: int = 1, iteration: int = 2) -> None:
        self.rank = rank
        self.iteration = iteration

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if get_rank() == self.rank and runner.iter + 1 == self.iteration:
            raise InjectedFault(f'injected fault on rank {self.rank} at '
                                f'iteration {self.iteration}')


@HOOKS.register_module()
class SlowIterationsHook(Hook):
    """Sleeps after every training iteration from ``begin`` on, so that a
    test can kill the process between two checkpoints.

    Args:
        seconds (float): Sleep per iteration.
        begin (int): The first 1-based iteration that is slowed down.
    """

    def __init__(self, seconds: float = 0.5, begin: int = 1) -> None:
        self.seconds = seconds
        self.begin = begin

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 >= self.begin:
            time.sleep(self.seconds)


@HOOKS.register_module()
class HangOnRankHook(Hook):
    """Blocks one rank before one iteration, as a stuck worker would.

    Args:
        rank (int): The rank that hangs.
        iteration (int): The 1-based training iteration it hangs at.
        seconds (float): How long it sleeps.
    """

    def __init__(self, rank: int = 1, iteration: int = 2,
                 seconds: float = 600.0) -> None:
        self.rank = rank
        self.iteration = iteration
        self.seconds = seconds

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if get_rank() == self.rank and runner.iter + 1 == self.iteration:
            time.sleep(self.seconds)
