"""Throughput of the GTA5 source training pipeline, with and without cache.

Writes N synthetic GTA5-like frames (textured PNG images and label maps, by
default at GTA5's 1914x1052) into a temporary directory (or ``--data-root``,
reused when already there), then runs the source training pipeline of
``configs/_base_/datasets/gta2cityscapes.py`` (decode, bicubic pillow resize
to 1280x720, label load, nearest resize, pack) through mmengine-built
dataloaders with each ``--workers`` count, once reading the originals and
once a resized cache made by ``tools/dataset_converters/resize_cache.py``
(:class:`~mmseg_uda.datasets.resized_cache.ResizedCacheDataset`). It prints
samples/s per loader and a per-transform breakdown of one sample::

    python benchmarks/data_loader.py [--num 8] [--workers 0 1 2]
        [--size 1914 1052] [--scale 1280 720] [--json PATH]
"""
import argparse
import datetime
import importlib.util
import json
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                  'gta2cityscapes.py')
TOOL = osp.join(REPO_ROOT, 'tools', 'dataset_converters', 'resize_cache.py')


def machine_header() -> dict:
    """CPU, core counts, library versions and the date."""
    import cv2
    import mmcv
    import mmengine
    import mmseg
    import PIL
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    usable = (len(os.sched_getaffinity(0))
              if hasattr(os, 'sched_getaffinity') else os.cpu_count())
    return dict(
        date=datetime.datetime.now().astimezone().isoformat(timespec='sec'
                                                            'onds'),
        cpu=cpu, cpu_count=os.cpu_count(), usable_cores=usable,
        torch_threads=torch.get_num_threads(),
        python=platform.python_version(), torch=torch.__version__,
        mmcv=mmcv.__version__, mmseg=mmseg.__version__,
        mmengine=mmengine.__version__, numpy=np.__version__,
        pillow=PIL.__version__, opencv=cv2.__version__)


def synthetic_frame(rng: np.random.Generator, width: int, height: int):
    """A textured BGR image and a blocky trainId label map.

    Smooth gradients, flat regions and pixel noise make the PNG compress
    roughly like a rendered frame (neither flat nor incompressible).
    """
    import cv2
    coarse = rng.integers(0, 19, (max(height // 64, 2), max(width // 64, 2)),
                          dtype=np.uint8)
    label = cv2.resize(coarse, (width, height),
                       interpolation=cv2.INTER_NEAREST)
    palette = rng.integers(30, 226, (19, 3)).astype(np.int16)
    img = palette[label]
    yy, xx = np.mgrid[0:height, 0:width]
    img += ((xx * 40) // width + (yy * 30) // height)[..., None].astype(
        np.int16)
    img += rng.integers(-8, 9, img.shape, dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8), label


def make_frames(root: str, num: int, width: int, height: int) -> None:
    """GTA5 layout (images/, labels/*_labelTrainIds.png); keeps existing."""
    import cv2
    rng = np.random.default_rng(0)
    for sub in ('images', 'labels'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    for i in range(num):
        img_path = osp.join(root, 'images', f'{i:05d}.png')
        label_path = osp.join(root, 'labels', f'{i:05d}_labelTrainIds.png')
        if osp.isfile(img_path) and osp.isfile(label_path):
            continue
        img, label = synthetic_frame(rng, width, height)
        cv2.imwrite(img_path, img)
        cv2.imwrite(label_path, label)


def source_dataset_cfg(data_root: str, scale) -> dict:
    """The config's source training dataset on ``data_root``."""
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG).to_dict()['source_train_dataset']
    cfg['data_root'] = data_root
    if scale is not None:
        for transform in cfg['pipeline']:
            if transform['type'] == 'Resize':
                transform['scale'] = tuple(scale)
    return cfg


def build_cache(dataset_cfg: dict, cache_dir: str, nproc: int) -> float:
    """Run the resize-cache tool's builder; returns seconds taken."""
    spec = importlib.util.spec_from_file_location('resize_cache_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    start = time.perf_counter()
    tool.build_cache(dataset_cfg, cache_dir, nproc=nproc)
    return time.perf_counter() - start


def time_loader(dataset_cfg: dict, workers: int) -> dict:
    """One pass of an mmengine-built dataloader (batch 1) over the data."""
    from mmengine.runner import Runner
    loader = Runner.build_dataloader(
        dict(batch_size=1, num_workers=workers, persistent_workers=False,
             sampler=dict(type='DefaultSampler', shuffle=False),
             collate_fn=dict(type='pseudo_collate'), dataset=dataset_cfg),
        seed=0)
    start = time.perf_counter()
    first = None
    count = 0
    for _ in loader:
        count += 1
        if first is None:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    steady = (count - 1) / (total - first) if count > 1 else float('nan')
    return dict(workers=workers, samples=count, total_s=total,
                first_batch_s=first, steady_samples_per_s=steady,
                ms_per_sample=1000 * total / count)


def transform_breakdown(dataset_cfg: dict, repeat: int) -> dict:
    """Median milliseconds of each pipeline transform on sample 0."""
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(dataset_cfg)
    inner = getattr(dataset, 'dataset', dataset)  # unwrap the cache
    runs = []
    for _ in range(repeat):
        results = inner.get_data_info(0)
        times = []
        for transform in inner.pipeline.transforms:
            start = time.perf_counter()
            results = transform(results)
            times.append((type(transform).__name__,
                          1000 * (time.perf_counter() - start)))
        runs.append(times)
    names = [name for name, _ in runs[0]]
    return {
        name: statistics.median(run[i][1] for run in runs)
        for i, name in enumerate(names)
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=8, help='frames')
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--size', type=int, nargs=2, default=[1914, 1052],
                        metavar=('W', 'H'), help='frame size')
    parser.add_argument('--scale', type=int, nargs=2, default=None,
                        metavar=('W', 'H'),
                        help="Resize scale (default: the config's 1280x720)")
    parser.add_argument('--repeat', type=int, default=3,
                        help='runs of the per-transform breakdown')
    parser.add_argument('--data-root', help='where to write/reuse frames')
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args(argv)
    if args.num < 1 or args.repeat < 1 or min(args.workers) < 0:
        parser.error('--num and --repeat must be >= 1, --workers >= 0')

    from mmengine.registry import init_default_scope

    import mmseg_uda  # noqa: F401 (registers the datasets)
    import mmseg_uda.datasets.resized_cache  # noqa: F401
    from mmseg_uda.utils.atomic_io import atomic_write_text
    init_default_scope('mmseg')
    header = machine_header()
    print('data loader benchmark, '
          + ', '.join(f'{k} {v}' for k, v in header.items()))
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_root or osp.join(tmp, 'gta')
        make_frames(root, args.num, *args.size)
        cfg = source_dataset_cfg(root, args.scale)
        resize = [t for t in cfg['pipeline'] if t['type'] == 'Resize'][0]
        cache_dir = osp.join(tmp, 'cache')
        cache_s = build_cache(cfg, cache_dir, nproc=1)
        cached = dict(type='ResizedCacheDataset', dataset=cfg,
                      cache_dir=cache_dir)
        report = dict(
            header, num=args.num, size=list(args.size),
            scale=list(resize['scale']),
            cache_build_s_per_frame=cache_s / args.num,
            loaders=[], breakdown={})
        for name, dataset in (('original', cfg), ('cached', cached)):
            report['breakdown'][name] = transform_breakdown(
                dataset, args.repeat)
            for workers in args.workers:
                report['loaders'].append(
                    dict(data=name, **time_loader(dataset, workers)))
    w, h = args.size
    sw, sh = report['scale']
    print(f'{args.num} frames {w}x{h} -> {sw}x{sh}; resize cache built in '
          f'{report["cache_build_s_per_frame"] * 1000:.0f} ms/frame '
          '(one time, 1 process)')
    print(f'{"data":>9} {"workers":>7} {"samples/s":>10} {"ms/sample":>10} '
          f'{"first batch s":>14} {"total s":>8}')
    for row in report['loaders']:
        print(f'{row["data"]:>9} {row["workers"]:>7} '
              f'{row["steady_samples_per_s"]:>10.2f} '
              f'{row["ms_per_sample"]:>10.1f} {row["first_batch_s"]:>14.2f} '
              f'{row["total_s"]:>8.2f}')
    print('per-sample breakdown, median ms (one process):')
    for name, steps in report['breakdown'].items():
        total = sum(steps.values())
        loads = sum(v for k, v in steps.items() if k.startswith('Load'))
        parts = ', '.join(f'{k} {v:.1f}' for k, v in steps.items())
        print(f'  {name}: {parts}; total {total:.1f}, decoding '
              f'{100 * loads / total:.0f}%')
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
