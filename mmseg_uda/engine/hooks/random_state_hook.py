"""Save torch's random state in checkpoints so that ``--resume`` continues
the model's random draws where the interrupted run was."""
import logging
from typing import List, Optional

import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS
from torch import Tensor

STATE_KEY = 'random_state'


def capture_torch_state() -> dict:
    """torch's global random state: CPU, and the current CUDA device's when
    CUDA is in use."""
    state = dict(cpu=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def restore_torch_state(state: dict) -> None:
    """Set torch's global random state from :func:`capture_torch_state`."""
    torch.set_rng_state(state['cpu'])
    cuda: Optional[Tensor] = state.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make the model-side random draws of a resumed run equal to those of
    an uninterrupted run.

    mmengine's resume restores weights, optimizers, schedulers and the
    iteration, and re-draws the consumed batches, so the data of a resumed
    run is that of an uninterrupted one. The random numbers a model draws in
    its training step (DACS's ClassMix classes, colour jitter and blur;
    dropout) come from torch's global generator, whose state is not saved:
    after a resume they differ. This hook

    * takes a snapshot of torch's random state (CPU, and the current CUDA
      device's) at the end of every training iteration;
    * writes the last snapshot into every checkpoint
      (``meta['random_state']``, one entry per rank);
    * at the start of every training iteration, sets torch's state to the
      snapshot of the previous iteration, the one loaded from the checkpoint
      after a resume.

    Setting the state back at every iteration also in an uninterrupted run
    makes the model's stream independent of what runs between two training
    iterations (a validation, whose loader draws a seed, happens in the
    uninterrupted run but not in the resumed one). numpy's and Python's
    generators are not touched: the data pipeline draws from them, and the
    re-drawn batches of a resume replay those draws already.

    Under distributed training every rank has its own state: the snapshots
    of all ranks are gathered on the iterations whose checkpoint the
    :class:`~mmengine.hooks.CheckpointHook` writes (its ``interval`` and the
    last iteration), and a resumed rank takes its own. A checkpoint written
    with another number of ranks restores nothing (with a warning).
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self.snapshot: Optional[dict] = None
        self.rank_snapshots: Optional[List[dict]] = None
        self.loaded: Optional[List[dict]] = None
        self.checkpoint_interval: Optional[int] = None

    def before_train(self, runner) -> None:
        """Take this rank's state from a resumed checkpoint; find the
        checkpoint interval, to gather the ranks' states before saving."""
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                self.checkpoint_interval = hook.interval
        states, self.loaded = self.loaded, None
        # a checkpoint given by `load_from` starts at iteration 0: its
        # state is not continued
        if states is None or runner.iter == 0:
            return
        rank, world_size = get_dist_info()
        if len(states) != world_size:
            print_log(
                f'the checkpoint holds the random state of {len(states)} '
                f'rank(s), this run has {world_size}: the model\'s random '
                'draws start afresh', logger='current',
                level=logging.WARNING)
            return
        self.snapshot = states[rank]

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        """Continue from the previous iteration's (or the checkpoint's)
        state."""
        if self.snapshot is not None:
            restore_torch_state(self.snapshot)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Snapshot the state; gather the ranks' when a checkpoint
        follows."""
        self.snapshot = capture_torch_state()
        _, world_size = get_dist_info()
        if world_size == 1:
            self.rank_snapshots = [self.snapshot]
            return
        interval = self.checkpoint_interval
        if (interval and interval > 0 and self.every_n_train_iters(
                runner, interval)) or self.is_last_train_iter(runner):
            self.rank_snapshots = all_gather_object(self.snapshot)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Write the ranks' snapshots into the checkpoint's meta."""
        if self.rank_snapshots is not None:
            checkpoint.setdefault('meta', {})[STATE_KEY] = \
                self.rank_snapshots

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the checkpoint's states for :meth:`before_train`."""
        self.loaded = (checkpoint.get('meta') or {}).get(STATE_KEY)
