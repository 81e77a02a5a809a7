"""The benchmark's header (machine, versions, date) and printed tables."""
import datetime
import os
import platform
from typing import Dict, List, Optional

import torch


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo``, else ``platform``)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> Dict[str, object]:
    """Machine, library versions and the date, for the report header."""
    import mmcv
    import mmengine
    import mmseg
    info = dict(
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        cpu=cpu_model(), cpu_cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(), device=str(device),
        python=platform.python_version(), torch=torch.__version__,
        mmcv=mmcv.__version__, mmseg=mmseg.__version__,
        mmengine=mmengine.__version__)
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def _ms(value: Optional[float]) -> str:
    return '-' if value is None else f'{1000 * value:.1f}'


def _mb(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.0f}'


def format_header(env: Dict[str, object]) -> List[str]:
    """Header lines of the report."""
    gpu = f", GPU {env['gpu']}" if 'gpu' in env else ''
    return [
        f"date {env['date']}",
        f"machine: {env['cpu']} ({env['cpu_cores']} cores, "
        f"{env['torch_threads']} torch threads){gpu}; device "
        f"{env['device']}",
        f"python {env['python']}, torch {env['torch']}, mmcv {env['mmcv']}, "
        f"mmseg {env['mmseg']}, mmengine {env['mmengine']}",
    ]


def format_train(result: Dict) -> List[str]:
    """Table of the training-step benchmark."""
    lines = [
        f"training step of {result['model']}: {result['iters']} timed "
        f"iterations after {result['warmup']} warm-up, "
        f"{result['samples_per_iter']:g} images per iteration",
        f"{'side':<6} {'median ms':>10} {'q1 ms':>8} {'q3 ms':>8} "
        f"{'min ms':>8} {'max ms':>8} {'samples/s':>10} {'peak RSS MB':>12} "
        f"{'peak CUDA MB':>13}",
    ]
    for side in ('ours', 'plain'):
        row = result[side]
        if row is None:
            continue
        lines.append(
            f"{side:<6} {_ms(row['median_s']):>10} {_ms(row['q1_s']):>8} "
            f"{_ms(row['q3_s']):>8} {_ms(row['min_s']):>8} "
            f"{_ms(row['max_s']):>8} {row['samples_per_s']:>10.2f} "
            f"{_mb(row['peak_rss_mb']):>12} {_mb(row['peak_cuda_mb']):>13}")
    lines.append(f"data wait: median {_ms(result['data_median_s'])} ms, "
                 f"share {100 * result['data_wait_share']:.1f}% of ours")
    if result['plain'] is None:
        lines.append('plain PyTorch re-statement: none for this model ('
                     f"{result['plain_unsupported']}); our figures only")
    else:
        lines.append(
            f"ours/plain: ratio of medians {result['ratio_of_medians']:.3f}, "
            f"median of per-iteration ratios "
            f"{result['median_pair_ratio']:.3f}")
    return lines


def format_inference(result: Dict) -> List[str]:
    """Table of the ranker / pseudo-label benchmark."""
    lines = [
        f"{result['task']} on {result['model']}: ours vs the original "
        'per-image loop',
        f"{'side':<9} {'images':>7} {'seconds':>8} {'images/s':>9} "
        f"{'peak RSS MB':>12} {'RSS growth MB':>14} {'peak CUDA MB':>13}",
    ]
    for row in result['rows']:
        lines.append(
            f"{row['side']:<9} {row['images']:>7} {row['seconds']:>8.2f} "
            f"{row['images_per_s']:>9.2f} {_mb(row['peak_rss_mb']):>12} "
            f"{_mb(row['rss_growth_mb']):>14} "
            f"{_mb(row['peak_cuda_mb']):>13}")
    return lines
