"""Time our training iteration against its plain PyTorch re-statement.

Our side is the runner's train loop (``IterBasedTrainLoop.run_iter``: the
hooks around ``model.train_step`` with the runner's optimizer wrappers),
prepared the way ``Runner.train`` prepares it. Both sides run on the same
batch in each iteration, in alternating order, so drift and noise of a
shared machine hit both; the ratio of the medians is the figure to read.
"""
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.utils import ProgressBar

from .peak_memory import MB, PeakMemorySampler
from .plain_inputs import UnsupportedModel
from .plain_train_step import build_plain_step
from .statistics import median_pair_ratio, ratio_of_medians, summarize


def prepare_training(runner: Runner):
    """Build what ``Runner.train`` builds and call its start hooks.

    The train loop, the optimizer wrappers (with ``auto_scale_lr``), the
    parameter schedulers; ``before_run`` hooks, model weight init, the
    wrappers' iteration counters, ``before_train`` and
    ``before_train_epoch`` hooks. No checkpoint is loaded or resumed and no
    validation runs.

    Args:
        runner (Runner): A freshly built runner.

    Returns:
        BaseLoop: The train loop, ready for ``run_iter``.
    """
    loop = runner.train_loop
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    if runner.param_schedulers is not None:
        runner.param_schedulers = runner.build_param_scheduler(
            runner.param_schedulers)
    runner.call_hook('before_run')
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    if hasattr(model, 'init_weights'):
        model.init_weights()
    runner.optim_wrapper.initialize_count_status(runner.model, loop.iter,
                                                 loop.max_iters)
    runner.call_hook('before_train')
    runner.call_hook('before_train_epoch')
    return loop


def batch_size_of(batch: dict) -> int:
    """Images in a collated batch (source + target for a paired one)."""
    if 'source' in batch and 'target' in batch:
        return len(batch['source']['inputs']) + len(batch['target']['inputs'])
    return len(batch['inputs'])


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _side_summary(times: List[float], peaks: List[int],
                  cuda_peaks: List[Optional[int]],
                  samples: List[int]) -> Dict[str, float]:
    out = summarize(times)
    out['samples_per_s'] = float(sum(samples) / sum(times))
    out['peak_rss_mb'] = max(peaks) / MB
    known = [p for p in cuda_peaks if p is not None]
    out['peak_cuda_mb'] = max(known) / MB if known else None
    return out


def benchmark_train_step(runner: Runner, iters: int, warmup: int = 2,
                         device: Optional[torch.device] = None,
                         progress: bool = True) -> Dict:
    """Time ``iters`` iterations of ours and of the plain re-statement.

    Args:
        runner (Runner): A freshly built runner (see
            :func:`prepare_training`).
        iters (int): Timed iterations (at least 1).
        warmup (int): Untimed iterations first.
        device (torch.device, optional): The model's device; taken from
            its parameters when None.
        progress (bool): Show a progress bar on stderr.

    Returns:
        dict: ``ours`` and ``plain`` summaries (``median_s``, ``q1_s``,
        ``q3_s``, ``iqr_s``, ``min_s``, ``max_s``, ``samples_per_s``,
        ``peak_rss_mb``, ``peak_cuda_mb``; ``plain`` is None without a
        re-statement, with ``plain_unsupported`` saying why),
        ``ratio_of_medians``, ``median_pair_ratio``, ``data_median_s``,
        ``data_wait_share``, ``samples_per_iter``, raw ``ours_times``,
        ``plain_times``, ``data_times``.
    """
    if iters < 1 or warmup < 0:
        raise ValueError(f'need iters >= 1 and warmup >= 0, got {iters}, '
                         f'{warmup}')
    loop = prepare_training(runner)
    model = runner.model
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    plain, unsupported = None, None
    try:
        plain = build_plain_step(model, runner.optim_wrapper, device)
    except UnsupportedModel as exc:
        unsupported = str(exc)

    def ours(batch: dict) -> None:
        model.train()
        loop.run_iter(batch)

    sides: Dict[str, Callable] = dict(ours=ours)
    if plain is not None:
        sides['plain'] = plain
    times = {name: [] for name in sides}
    peaks = {name: [] for name in sides}
    cuda_peaks = {name: [] for name in sides}
    data_times, samples = [], []
    iterator = loop.dataloader_iterator
    bar = ProgressBar(warmup + iters, file=sys.stderr) if progress else None
    with PeakMemorySampler(device=device) as sampler:
        for i in range(warmup + iters):
            start = time.perf_counter()
            batch = next(iterator)
            data_time = time.perf_counter() - start
            order = list(sides) if i % 2 == 0 else list(sides)[::-1]
            for name in order:
                with sampler.phase() as memory:
                    _synchronize(device)
                    start = time.perf_counter()
                    sides[name](batch)
                    _synchronize(device)
                    elapsed = time.perf_counter() - start
                if i >= warmup:
                    times[name].append(elapsed)
                    peaks[name].append(memory.peak_rss)
                    cuda_peaks[name].append(memory.cuda_peak)
            if i >= warmup:
                data_times.append(data_time)
                samples.append(batch_size_of(batch))
            if bar is not None:
                bar.update()
    if bar is not None:
        sys.stderr.write('\n')
    result = dict(
        iters=iters, warmup=warmup, device=str(device),
        model=type(model.module if is_model_wrapper(model) else model
                   ).__name__,
        samples_per_iter=float(sum(samples) / len(samples)),
        data_median_s=summarize(data_times)['median_s'],
        data_wait_share=float(
            sum(data_times) / (sum(data_times) + sum(times['ours']))),
        ours=_side_summary(times['ours'], peaks['ours'], cuda_peaks['ours'],
                           samples),
        plain=None, plain_unsupported=unsupported,
        ratio_of_medians=None, median_pair_ratio=None,
        ours_times=times['ours'], plain_times=times.get('plain'),
        data_times=data_times)
    if plain is not None:
        result['plain'] = _side_summary(times['plain'], peaks['plain'],
                                        cuda_peaks['plain'], samples)
        result['ratio_of_medians'] = ratio_of_medians(times['ours'],
                                                      times['plain'])
        result['median_pair_ratio'] = median_pair_ratio(times['ours'],
                                                        times['plain'])
    return result
