"""CycleGAN's learning-rate rule, stepped once per epoch of iterations."""
from mmengine.optim import _ParamScheduler
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmseg.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class EpochLinearDecayLR(LRSchedulerMixin, _ParamScheduler):
    """Constant, then linear decay to 0, changing once per epoch.

    CycleGAN's ``get_scheduler`` (``lr_policy='lambda'``, as in BDL's
    ``cyclegan/networks.py``) multiplies the initial lr by::

        1 - max(0, epoch + 1 + epoch_count - niter) / (niter_decay + 1)

    where ``epoch`` counts the finished epochs (``update_learning_rate`` runs
    at the end of each of the ``niter + niter_decay`` epochs). With the
    default ``epoch_count = 1`` the lr is constant for ``niter - 1`` epochs,
    then drops by ``1 / (niter_decay + 1)`` per epoch, and the last epoch
    runs at 0. Here an epoch is ``iters_per_epoch`` iterations of an
    iteration-based loop (``by_epoch=False``): the value of iteration ``i``
    is that of epoch ``i // iters_per_epoch``. The value is computed in
    closed form from each group's initial lr (not chained with other
    schedulers).

    Args:
        optimizer (Optimizer or OptimWrapper): Wrapped optimizer.
        niter (int): CycleGAN's ``--niter`` (epochs at the initial lr,
            counted as CycleGAN counts them).
        niter_decay (int): CycleGAN's ``--niter_decay``.
        iters_per_epoch (int): Iterations per epoch (not ``epoch_length``:
            mmengine's scheduler builder drops that argument).
        epoch_count (int): CycleGAN's ``--epoch_count``. Defaults to 1.
        begin (int): Step at which to start. Defaults to 0.
        end (int): Step at which to stop. Defaults to INF.
        last_step (int): The index of the last step (resume without a state
            dict). Defaults to -1.
        by_epoch (bool): Must be False: steps are iterations.
        verbose (bool): Print the value at each update.
    """

    def __init__(self,
                 optimizer,
                 niter: int,
                 niter_decay: int,
                 iters_per_epoch: int,
                 epoch_count: int = 1,
                 by_epoch: bool = False,
                 **kwargs) -> None:
        if by_epoch:
            raise ValueError('EpochLinearDecayLR steps per iteration: '
                             'by_epoch must be False')
        if iters_per_epoch < 1 or niter < 0 or niter_decay < 0:
            raise ValueError(
                'EpochLinearDecayLR needs iters_per_epoch >= 1 and niter, '
                f'niter_decay >= 0, got iters_per_epoch={iters_per_epoch}, '
                f'niter={niter}, niter_decay={niter_decay}')
        self.niter = niter
        self.niter_decay = niter_decay
        self.iters_per_epoch = iters_per_epoch
        self.epoch_count = epoch_count
        super().__init__(optimizer, by_epoch=by_epoch, **kwargs)

    def factor(self, epoch: int) -> float:
        """CycleGAN's lambda rule after ``epoch`` finished epochs."""
        decayed = max(0, epoch + 1 + self.epoch_count - self.niter)
        return 1.0 - decayed / float(self.niter_decay + 1)

    def _get_value(self) -> list:
        """The initial lr times the factor of the current epoch."""
        factor = self.factor(self.last_step // self.iters_per_epoch)
        return [base * factor for base in self.base_values]
