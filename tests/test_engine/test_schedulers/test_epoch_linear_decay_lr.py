"""EpochLinearDecayLR: CycleGAN's lambda rule (BDL cyclegan/networks.py
get_scheduler, re-stated in tests/reference/cyclegan_options.py) stepped
once per epoch of iterations."""
import pytest
import torch

from mmseg_uda.engine.schedulers import EpochLinearDecayLR
from tests.reference.cyclegan_options import cyclegan_epoch_lrs


def _optimizer():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(
        torch.zeros(1))
    # two groups, e.g. a 10x head: each decays from its own initial lr
    return torch.optim.SGD([dict(params=[a], lr=0.5),
                            dict(params=[b], lr=5.0)])


def _run(scheduler, optimizer, iters):
    lrs = []
    for _ in range(iters):
        lrs.append([g['lr'] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize('niter,niter_decay,epoch_count',
                         [(3, 2, 1), (10, 10, 1), (4, 3, 2)])
def test_every_iteration_follows_cyclegans_epochs(niter, niter_decay,
                                                  epoch_count):
    length = 3
    optimizer = _optimizer()
    scheduler = EpochLinearDecayLR(optimizer, niter=niter,
                                   niter_decay=niter_decay,
                                   iters_per_epoch=length,
                                   epoch_count=epoch_count)
    epochs = niter + niter_decay + 1 - epoch_count
    lrs = _run(scheduler, optimizer, epochs * length)
    for group, base in enumerate((0.5, 5.0)):
        expected = cyclegan_epoch_lrs(base, niter, niter_decay, epoch_count)
        got = [lrs[e * length + i][group] for e in range(epochs)
               for i in range(length)]
        assert got == pytest.approx(
            [lr for lr in expected for _ in range(length)], abs=1e-15)
    assert lrs[-1] == pytest.approx([0.0, 0.0], abs=1e-15)


def test_resume_mid_epoch_continues_the_schedule():
    optimizer = _optimizer()
    full = _run(EpochLinearDecayLR(optimizer, niter=2, niter_decay=2,
                                   iters_per_epoch=4), optimizer, 16)
    optimizer = _optimizer()
    first = EpochLinearDecayLR(optimizer, niter=2, niter_decay=2,
                               iters_per_epoch=4)
    head = _run(first, optimizer, 6)
    state = first.state_dict()
    optimizer2 = _optimizer()
    second = EpochLinearDecayLR(optimizer2, niter=2, niter_decay=2,
                                iters_per_epoch=4)
    # as a runner resumes: the optimizer's and the scheduler's states
    optimizer2.load_state_dict(optimizer.state_dict())
    second.load_state_dict(state)
    tail = _run(second, optimizer2, 10)
    assert head + tail == full


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='by_epoch'):
        EpochLinearDecayLR(_optimizer(), niter=1, niter_decay=1,
                           iters_per_epoch=2, by_epoch=True)
    with pytest.raises(ValueError, match='iters_per_epoch'):
        EpochLinearDecayLR(_optimizer(), niter=1, niter_decay=1,
                           iters_per_epoch=0)
