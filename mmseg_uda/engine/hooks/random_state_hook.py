"""Save torch's random state in checkpoints so that ``--resume`` continues
the model's random draws where the interrupted run was."""
import logging
from typing import List, Optional

import numpy as np
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


def capture_numpy_state() -> dict:
    """numpy's global (MT19937) random state, as tensors and numbers (a
    checkpoint loads them without unpickling numpy types)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return dict(name=name, keys=torch.from_numpy(keys.astype(np.int64)),
                pos=int(pos), has_gauss=int(has_gauss), gauss=float(gauss))


def restore_numpy_state(state: dict) -> None:
    """Set numpy's global random state from :func:`capture_numpy_state`."""
    np.random.set_state((state['name'],
                         state['keys'].numpy().astype(np.uint32),
                         state['pos'], state['has_gauss'], state['gauss']))


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
    uninterrupted run but not in the resumed one). Python's generator is
    not touched. numpy's global generator is saved and set back likewise
    when the training loader has worker processes: the data pipeline then
    draws from the workers' generators (a resume replays those draws by
    re-drawing the batches), and only the model draws from the main
    process's (HRDA's detail crop). Without workers the pipeline draws from
    the main process's numpy generator between the model's draws, and
    setting it back would repeat the data's draws in the model's: it is
    left alone, and a model that draws from numpy resumes exactly only
    with workers.

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
        self.numpy_too = False

    def before_train(self, runner) -> None:
        """Take this rank's state from a resumed checkpoint; find the
        checkpoint interval, to gather the ranks' states before saving."""
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                self.checkpoint_interval = hook.interval
        loader = getattr(runner, 'train_dataloader', None)
        self.numpy_too = getattr(loader, 'num_workers', 0) > 0
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
            numpy_state = self.snapshot.get('numpy')
            if self.numpy_too and numpy_state is not None:
                restore_numpy_state(numpy_state)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Snapshot the state; gather the ranks' when a checkpoint
        follows."""
        self.snapshot = capture_torch_state()
        if self.numpy_too:
            self.snapshot['numpy'] = capture_numpy_state()
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
