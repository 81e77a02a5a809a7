"""RandomStateHook: torch's random state continues across a resume."""
from types import SimpleNamespace

import torch
from mmengine.logging import MMLogger

from mmseg_uda.engine.hooks import RandomStateHook
from mmseg_uda.engine.hooks.random_state_hook import STATE_KEY


def _runner(iteration, max_iters=10):
    return SimpleNamespace(iter=iteration, max_iters=max_iters, hooks=[],
                           train_loop=SimpleNamespace(max_iters=max_iters))


def test_each_iteration_continues_from_the_end_of_the_previous_one():
    hook = RandomStateHook()
    runner = _runner(0)
    torch.manual_seed(3)
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    torch.rand(4)  # the model's draws of iteration 0
    hook.after_train_iter(runner, 0)
    expected = torch.rand(4)  # what iteration 1 would draw next
    torch.rand(100)  # a validation in between draws too
    hook.before_train_iter(runner, 1)
    torch.testing.assert_close(torch.rand(4), expected, rtol=0, atol=0)


def test_a_resumed_run_draws_what_the_uninterrupted_run_drew():
    torch.manual_seed(5)
    first = RandomStateHook()
    runner = _runner(0)
    first.before_train(runner)
    for i in range(2):
        first.before_train_iter(runner, i)
        torch.rand(3)
        first.after_train_iter(runner, i)
    checkpoint = dict(meta={})
    first.before_save_checkpoint(runner, checkpoint)
    assert len(checkpoint['meta'][STATE_KEY]) == 1
    first.before_train_iter(runner, 2)
    uninterrupted = torch.rand(3)

    torch.manual_seed(0)  # a new process: another state
    resumed = RandomStateHook()
    resumed.after_load_checkpoint(runner, checkpoint)
    resumed.before_train(_runner(2))
    resumed.before_train_iter(runner, 2)
    torch.testing.assert_close(torch.rand(3), uninterrupted, rtol=0, atol=0)


def test_load_from_and_another_world_size_do_not_continue(monkeypatch):
    torch.manual_seed(1)
    state = dict(cpu=torch.get_rng_state())
    hook = RandomStateHook()
    # `load_from` (iteration 0): the checkpoint's state is not taken
    hook.after_load_checkpoint(None, dict(meta={STATE_KEY: [state]}))
    hook.before_train(_runner(0))
    assert hook.snapshot is None
    # a resume with 2 ranks from a 1-rank checkpoint: a warning, no state
    monkeypatch.setattr(
        'mmseg_uda.engine.hooks.random_state_hook.get_dist_info',
        lambda: (0, 2))
    logged = []
    logger = MMLogger.get_current_instance()
    monkeypatch.setattr(logger, 'warning', logged.append)
    hook.after_load_checkpoint(None, dict(meta={STATE_KEY: [state]}))
    hook.before_train(_runner(4))
    assert hook.snapshot is None


def _numpy_resume(num_workers):
    """numpy draws of iteration 2: uninterrupted, and resumed in a new
    process from the iteration-2 checkpoint."""
    import numpy as np
    loader = SimpleNamespace(num_workers=num_workers)
    np.random.seed(5)
    first = RandomStateHook()
    runner = _runner(0)
    runner.train_dataloader = loader
    first.before_train(runner)
    for i in range(2):
        first.before_train_iter(runner, i)
        np.random.randint(0, 100, 3)  # e.g. HRDA's detail crop
        first.after_train_iter(runner, i)
    checkpoint = dict(meta={})
    first.before_save_checkpoint(runner, checkpoint)
    first.before_train_iter(runner, 2)
    uninterrupted = np.random.randint(0, 1 << 30, 3)

    np.random.seed(0)  # a new process: another state
    resumed = RandomStateHook()
    resumed.after_load_checkpoint(runner, checkpoint)
    runner = _runner(2)
    runner.train_dataloader = loader
    resumed.before_train(runner)
    resumed.before_train_iter(runner, 2)
    return uninterrupted, np.random.randint(0, 1 << 30, 3)


def test_numpy_continues_when_the_loader_has_workers():
    # with workers the pipeline draws in the workers, only the model draws
    # from the main process's numpy generator (HRDA's detail crop)
    uninterrupted, resumed = _numpy_resume(num_workers=1)
    assert uninterrupted.tolist() == resumed.tolist()
    # without workers the pipeline draws from it too: left alone
    uninterrupted, resumed = _numpy_resume(num_workers=0)
    assert uninterrupted.tolist() != resumed.tolist()
