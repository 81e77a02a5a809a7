"""Write a one-time resized copy of a dataset for ``ResizedCacheDataset``.

Usage::

    python tools/dataset_converters/resize_cache.py CONFIG OUT_DIR
        [--dataset source|target|KEY] [--nproc 4] [--cfg-options ...]

Takes a dataset of CONFIG (default ``source``: the source dataset of the UDA
training loader, ``train_dataloader.dataset`` or else
``uda_train_dataloader.dataset``; ``target`` its target; or a dotted key such
as ``train_dataloader.dataset``), finds the ``Resize`` of its pipeline and
writes every image, loaded and resized exactly as that pipeline does, and
every label (when loaded before the ``Resize``; nearest) into OUT_DIR with
the layout relative to ``data_root`` kept. Files are lossless PNG data under
their original names, each written atomically. Finished files are skipped,
so an interrupted run is resumed by running the same command again; the
manifest ``resize_cache.json`` is written last. Then train with::

    dict(type='ResizedCacheDataset', cache_dir=OUT_DIR, dataset=<dataset>)
"""
import argparse
import functools
import json
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import track_parallel_progress, track_progress
from mmseg.registry import DATASETS, TRANSFORMS
from PIL import Image

from mmseg_uda.datasets.resized_cache import (MANIFEST_NAME,
                                              MANIFEST_VERSION,
                                              SETTING_KEYS,
                                              pipeline_cache_plan,
                                              relative_path)
from mmseg_uda.utils.atomic_io import atomic_write_png, atomic_write_text

PARTIAL_NAME = '.resize_cache.partial.json'
WRAPPER = 'ResizedCacheDataset'


class ResizeCacheError(RuntimeError):
    """Raised for a file that cannot be read, resized or written."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Write a dataset's images and labels resized once")
    parser.add_argument('config', help='config holding the dataset')
    parser.add_argument('out_dir', help='directory of the resized cache')
    parser.add_argument(
        '--dataset',
        default='source',
        help="'source' or 'target' of the UDA training loader, or a dotted "
        'config key of a dataset (default: source)')
    parser.add_argument(
        '--nproc', type=int, default=4, help='number of worker processes')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args(argv)


def select_dataset(cfg: Config, key: str) -> dict:
    """The dataset config named by ``key`` (a cache wrapper is unwrapped).

    Raises:
        KeyError: If the config has no such dataset.
    """
    tree = cfg.to_dict()
    if key in ('source', 'target'):
        found = None
        for loader in ('train_dataloader', 'uda_train_dataloader'):
            dataset = (tree.get(loader) or {}).get('dataset') or {}
            if key in dataset:
                found = dataset[key]
                break
        if found is None:
            raise KeyError(
                f'config has no {key} dataset: neither '
                f'train_dataloader.dataset.{key} nor '
                f'uda_train_dataloader.dataset.{key} exists; pass '
                '--dataset with a dotted key, e.g. train_dataloader.dataset')
    else:
        found = tree
        for part in key.split('.'):
            if not isinstance(found, dict) or part not in found:
                raise KeyError(f'config has no key {key!r} (no {part!r})')
            found = found[part]
        if not isinstance(found, dict) or 'type' not in found:
            raise KeyError(f'config key {key!r} is not a dataset config')
    if str(found.get('type')).split('.')[-1] == WRAPPER:
        found = found['dataset']
    return found


def cache_sample(task: Tuple[str, Optional[str]], plan: dict, data_root: str,
                 out_dir: str) -> Tuple[str, List[int], int, int]:
    """Write the resized image (and label) of one sample unless present.

    Args:
        task (tuple): ``(img_path, seg_map_path)``; the label is cached when
            given and the plan caches labels.
        plan (dict): See :func:`pipeline_cache_plan`.
        data_root (str): The dataset's ``data_root``.
        out_dir (str): The cache directory.

    Returns:
        tuple: The image's path relative to ``data_root``, its original
        ``[h, w]``, the number of files written and of files in the cache
        for this sample.

    Raises:
        ResizeCacheError: Naming the file that cannot be read or written.
    """
    img_path, seg_map_path = task
    if not plan['settings']['labels']:
        seg_map_path = None
    rel = relative_path(img_path, data_root)
    dsts = [osp.join(out_dir, rel)]
    if seg_map_path:
        dsts.append(osp.join(out_dir, relative_path(seg_map_path, data_root)))
    if all(osp.isfile(dst) for dst in dsts):
        try:
            with Image.open(img_path) as img:
                width, height = img.size
        except Exception as exc:
            raise ResizeCacheError(
                f'cannot read image {img_path!r}: {exc}') from exc
        return rel, [height, width], 0, len(dsts)
    results = dict(img_path=img_path, seg_fields=[], reduce_zero_label=False,
                   label_map=None)
    steps = [(plan['image_loader'], img_path, 'image')]
    if seg_map_path:
        # Raw labels: reduce_zero_label/label_map apply when the cache is read.
        label_loader = dict(plan['label_loader'], reduce_zero_label=False)
        results['seg_map_path'] = seg_map_path
        steps.append((label_loader, seg_map_path, 'label'))
    for cfg, path, kind in steps:
        try:
            results = TRANSFORMS.build(cfg)(results)
            assert results is not None, 'the loader returned None'
        except Exception as exc:
            raise ResizeCacheError(
                f'cannot read {kind} {path!r}: {type(exc).__name__}: {exc}'
            ) from exc
    height, width = results['img'].shape[:2]
    results = TRANSFORMS.build(plan['resize'])(results)
    arrays = [results['img']]
    if seg_map_path:
        arrays.append(results['gt_seg_map'])
    for dst, array in zip(dsts, arrays):
        try:
            atomic_write_png(dst, array)
        except Exception as exc:
            raise ResizeCacheError(
                f'cannot write {dst!r}: {type(exc).__name__}: {exc}') from exc
    return rel, [height, width], len(dsts), len(dsts)


def read_json(path: str) -> Optional[dict]:
    """Content of a JSON file, or None if it does not exist."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def claim_out_dir(out_dir: str, settings: dict) -> None:
    """Refuse OUT_DIR if it holds a cache of other settings, else claim it.

    Raises:
        ValueError: If the manifest or an unfinished run's settings in
            ``out_dir`` differ from ``settings``.
    """
    for name in (MANIFEST_NAME, PARTIAL_NAME):
        previous = read_json(osp.join(out_dir, name))
        if previous is None:
            continue
        old = {k: previous.get(k) for k in settings}
        if old != settings:
            raise ValueError(
                f'{out_dir!r} holds a resized cache of other settings '
                f'({name}: {old} != {settings}); use another OUT_DIR or '
                'delete it')
    atomic_write_text(osp.join(out_dir, PARTIAL_NAME), json.dumps(settings))


def build_cache(dataset_cfg: dict, out_dir: str, nproc: int = 4) -> dict:
    """Write the resized cache of a dataset; returns the manifest.

    Args:
        dataset_cfg (dict): Dataset config with a cacheable pipeline.
        out_dir (str): Cache directory (created if missing).
        nproc (int): Number of worker processes (1 runs in-process).

    Returns:
        dict: The manifest written to ``out_dir/resize_cache.json``.
    """
    if nproc < 1:
        raise ValueError(f'nproc must be >= 1, got {nproc}')
    where = str(dataset_cfg.get('type'))
    plan = pipeline_cache_plan(dataset_cfg.get('pipeline'), where)
    data_root = dataset_cfg.get('data_root')
    if not data_root:
        raise ValueError(f'{where} has no data_root; the cache keeps paths '
                         'relative to it')
    dataset = DATASETS.build(dict(dataset_cfg, pipeline=[]))
    tasks = [(info['img_path'], info.get('seg_map_path'))
             for info in map(dataset.get_data_info, range(len(dataset)))]
    if not tasks:
        raise FileNotFoundError(f'{where} at {data_root!r} lists no images')
    settings = dict(version=MANIFEST_VERSION,
                    **{k: plan['settings'][k]
                       for k in SETTING_KEYS})
    claim_out_dir(out_dir, settings)
    print(f'{len(tasks)} samples of {where} ({data_root}) -> {out_dir}, '
          f'{settings["scale"][0]}x{settings["scale"][1]} '
          f'{settings["interpolation"]} ({settings["backend"]}), labels: '
          f'{settings["labels"]}')
    func = functools.partial(
        cache_sample, plan=plan, data_root=data_root, out_dir=out_dir)
    if nproc == 1 or len(tasks) == 1:
        done = track_progress(func, tasks, file=sys.stdout)
    else:
        done = track_parallel_progress(
            func, tasks, min(nproc, len(tasks)), file=sys.stdout)
    written = sum(result[2] for result in done)
    manifest = dict(
        settings,
        dataset_type=where,
        data_root=osp.abspath(data_root),
        data_prefix=dataset_cfg.get('data_prefix'),
        img_suffix=getattr(dataset, 'img_suffix', None),
        seg_map_suffix=getattr(dataset, 'seg_map_suffix', None),
        num_samples=len(tasks),
        num_files=sum(result[3] for result in done),
        sizes={result[0]: result[1] for result in done})
    atomic_write_text(
        osp.join(out_dir, MANIFEST_NAME), json.dumps(manifest, indent=1))
    os.remove(osp.join(out_dir, PARTIAL_NAME))
    print(f'{written} files written, {manifest["num_files"] - written} '
          f'already present; manifest {osp.join(out_dir, MANIFEST_NAME)}')
    return manifest


def main(argv: Optional[List[str]] = None) -> int:
    """Run the tool; returns the exit status (errors go to stderr)."""
    args = parse_args(argv)
    try:
        if not osp.isfile(args.config):
            raise FileNotFoundError(f'config file not found: {args.config}')
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        dataset_cfg = select_dataset(cfg, args.dataset)
        build_cache(dataset_cfg, args.out_dir, args.nproc)
    except (OSError, KeyError, ValueError, ResizeCacheError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) else exc
        print(f'error: {message}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
