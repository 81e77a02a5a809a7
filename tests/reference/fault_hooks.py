"""Test-only hooks that inject faults into a training run."""
import os.path as osp
import time
from typing import Optional, Sequence

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
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
class PauseAtIterationHook(Hook):
    """Before one iteration, writes ``flag_file`` and blocks, so that a test
    that waits for the file kills the process at a known point: after the
    previous iteration (and its checkpoint), before this one. It parks once:
    not when ``flag_file`` exists already (the run after the kill).

    Args:
        iteration (int): The 1-based training iteration it stops before.
        flag_file (str): Written when the process is parked.
        seconds (float): How long it blocks (the test kills it first).
        work_dir_suffix (str, optional): Park only the run whose work dir
            ends with this (one step of a multi-step driver).
    """

    def __init__(self, iteration: int, flag_file: str,
                 seconds: float = 600.0,
                 work_dir_suffix: Optional[str] = None) -> None:
        self.iteration = iteration
        self.flag_file = flag_file
        self.seconds = seconds
        self.work_dir_suffix = work_dir_suffix

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.work_dir_suffix is not None and not osp.normpath(
                runner.work_dir).endswith(self.work_dir_suffix):
            return
        if runner.iter + 1 == self.iteration and \
                not osp.exists(self.flag_file):
            with open(self.flag_file, 'w') as f:
                f.write(f'parked before iteration {self.iteration}\n')
            time.sleep(self.seconds)


@HOOKS.register_module()
class NaNOnRankHook(Hook):
    """Makes one rank's losses NaN in some iterations, as a bad batch on one
    GPU would: a weight of the main discriminator is NaN during those
    iterations only (restored afterwards, so that the ranks' parameters
    differ only if the step itself made them differ).

    Args:
        rank (int): The rank whose losses become NaN.
        iterations (Sequence[int]): The 1-based iterations.
    """

    def __init__(self, rank: int = 1, iterations: Sequence[int] = (2, )):
        self.rank = rank
        self.iterations = tuple(iterations)
        self._saved = None

    @staticmethod
    def _weight(runner) -> torch.Tensor:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        disc = model.discriminators
        disc = disc.module if is_model_wrapper(disc) else disc
        return disc['main'].convs[0].weight

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if get_rank() == self.rank and runner.iter + 1 in self.iterations:
            weight = self._weight(runner)
            with torch.no_grad():
                self._saved = weight[0, 0, 0, 0].clone()
                weight[0, 0, 0, 0] = float('nan')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self._saved is not None:
            with torch.no_grad():
                self._weight(runner)[0, 0, 0, 0] = self._saved
            self._saved = None


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
