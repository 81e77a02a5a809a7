"""Train from a one-time resized copy of a dataset (a "resized cache").

GTA5 frames are 1914x1052 PNGs that the training pipeline decodes and resizes
to 1280x720 on every iteration. ``tools/dataset_converters/resize_cache.py``
writes every image (and label) of a dataset once, already resized exactly as
the pipeline's ``Resize`` would, into a cache directory that keeps the
dataset's layout relative to ``data_root``, and writes the manifest
``resize_cache.json`` last.

:class:`ResizedCacheDataset` wraps the dataset config and reads the cached
files instead: the dataset still lists the original files (with all its
checks), a transform in front of the pipeline redirects the paths into the
cache, the unchanged pipeline runs (its ``Resize`` to the size the files
already have is a copy with both backends), and a transform right after the
``Resize`` puts back the original paths, ``ori_shape`` and ``scale_factor``.
Samples are therefore identical, pixels and meta information, to the
uncached ones.

Only loading transforms may precede the ``Resize``: ``LoadImageFromFile``
(the images are cached), ``LoadAnnotations`` (the labels are cached, resized
with nearest) and ``LoadPseudoLabels`` (left as is; its labels are read from
their own directory).
"""
import copy
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Set

from mmcv.transforms import BaseTransform
from mmseg.registry import DATASETS

MANIFEST_NAME = 'resize_cache.json'
MANIFEST_VERSION = 1
IMAGE_LOADER = 'LoadImageFromFile'
LABEL_LOADER = 'LoadAnnotations'
UNCACHED_LOADERS = ('LoadPseudoLabels', )
# Keys of the manifest that must equal the dataset's pipeline settings.
SETTING_KEYS = ('scale', 'interpolation', 'backend', 'labels')
TOOL = 'tools/dataset_converters/resize_cache.py'


def transform_type(transform: Any) -> str:
    """Type name of a transform config (scope prefix dropped) or object."""
    if isinstance(transform, dict):
        name = str(transform.get('type', ''))
    else:
        name = type(transform).__name__
    return name.split('.')[-1]


def pipeline_cache_plan(pipeline: Sequence[Any],
                        where: str = 'dataset') -> dict:
    """Find the ``Resize`` of a pipeline and what a cache of it holds.

    Args:
        pipeline (Sequence[dict]): Transform configs of the dataset.
        where (str): Names the dataset in error messages.

    Returns:
        dict: ``resize_index`` (position of the ``Resize``), ``image_loader``
        and ``label_loader`` (configs of the loaders before it; the latter
        ``None`` if labels are not loaded before it), ``resize`` (its
        config) and ``settings``: ``scale`` ``[w, h]``, ``interpolation``,
        ``backend`` and ``labels`` (whether labels are cached).

    Raises:
        ValueError: If there is no ``Resize``, it keeps the ratio or has no
            ``scale``, no image loader precedes it, or another transform
            precedes it.
    """
    if pipeline is None:
        raise ValueError(f'{where} has no pipeline; a resized cache needs a '
                         'pipeline with a Resize transform')
    names = [transform_type(t) for t in pipeline]
    if 'Resize' not in names:
        raise ValueError(
            f'no Resize transform in the pipeline of {where} ({names}); a '
            'resized cache needs one with a fixed scale and keep_ratio=False')
    index = names.index('Resize')
    resize = pipeline[index]
    if not isinstance(resize, dict):
        raise ValueError(f'the Resize of {where} must be a config dict')
    if resize.get('keep_ratio', False) or not resize.get('scale'):
        raise ValueError(
            f'the Resize of {where} must have a fixed `scale` and '
            f'keep_ratio=False to be cached, got {dict(resize)}')
    plan = dict(resize_index=index, resize=copy.deepcopy(dict(resize)),
                image_loader=None, label_loader=None)
    for name, transform in zip(names[:index], pipeline[:index]):
        if name == IMAGE_LOADER:
            plan['image_loader'] = copy.deepcopy(dict(transform))
        elif name == LABEL_LOADER:
            plan['label_loader'] = copy.deepcopy(dict(transform))
        elif name not in UNCACHED_LOADERS:
            raise ValueError(
                f'{name} precedes the Resize in the pipeline of {where}; '
                f'only {IMAGE_LOADER}, {LABEL_LOADER} and '
                f'{", ".join(UNCACHED_LOADERS)} may, since the cache holds '
                'the loaded images resized')
    if plan['image_loader'] is None:
        raise ValueError(f'no {IMAGE_LOADER} before the Resize in the '
                         f'pipeline of {where}')
    scale = resize['scale']
    if isinstance(scale, int):
        scale = (scale, scale)
    plan['settings'] = dict(
        scale=[int(s) for s in scale],
        interpolation=resize.get('interpolation', 'bilinear'),
        backend=resize.get('backend', 'cv2'),
        labels=plan['label_loader'] is not None)
    return plan


def relative_path(path: str, data_root: str) -> str:
    """``path`` relative to ``data_root`` with ``/`` separators.

    Raises:
        ValueError: If ``path`` is not under ``data_root``.
    """
    rel = osp.relpath(path, data_root)
    if rel == '..' or rel.startswith('..' + os.sep) or osp.isabs(rel):
        raise ValueError(f'{path!r} is not under data_root {data_root!r}; '
                         'a resized cache keeps paths relative to data_root')
    return rel.replace(os.sep, '/')


def read_manifest(cache_dir: str) -> dict:
    """Load and sanity-check ``cache_dir/resize_cache.json``.

    Raises:
        FileNotFoundError: If the directory or the manifest is missing.
        ValueError: If the manifest is not a resized-cache manifest.
    """
    if not osp.isdir(cache_dir):
        raise FileNotFoundError(
            f'resized cache directory not found: {cache_dir!r} (make it '
            f'with {TOOL})')
    path = osp.join(cache_dir, MANIFEST_NAME)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'resized cache {cache_dir!r} has no {MANIFEST_NAME}: it is '
            f'incomplete (interrupted?); re-run {TOOL} on it to finish it')
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f'cannot read the manifest {path!r} of resized '
                         f'cache {cache_dir!r}: {exc}') from exc
    missing = [k for k in SETTING_KEYS + ('sizes', ) if k not in manifest]
    if missing or manifest.get('version') != MANIFEST_VERSION:
        raise ValueError(
            f'{path!r} is not a version-{MANIFEST_VERSION} resized-cache '
            f'manifest (missing keys: {missing}); re-create the cache of '
            f'{cache_dir!r} with {TOOL}')
    return manifest


def check_settings(manifest: dict, settings: dict, cache_dir: str) -> None:
    """Refuse a cache made for other Resize settings than ``settings``.

    Raises:
        ValueError: Naming the cache and every differing setting.
    """
    diffs = [
        f'{key}: cache {manifest[key]!r} != pipeline {settings[key]!r}'
        for key in SETTING_KEYS if manifest[key] != settings[key]
    ]
    if diffs:
        raise ValueError(
            f'resized cache {cache_dir!r} was made for other Resize '
            f'settings than the dataset pipeline ({"; ".join(diffs)}); '
            f'make a new cache with {TOOL}')


def list_cache_files(cache_dir: str) -> Set[str]:
    """Relative paths (``/`` separated) of all files under ``cache_dir``."""
    files = set()
    for root, _, names in os.walk(cache_dir):
        rel_root = osp.relpath(root, cache_dir)
        for name in names:
            rel = name if rel_root == '.' else osp.join(rel_root, name)
            files.add(rel.replace(os.sep, '/'))
    return files


class RedirectToResizedCache(BaseTransform):
    """Point ``img_path`` (and ``seg_map_path``) into a resized cache.

    The original paths and image shape are kept under
    ``results['resized_cache_original']`` for
    :class:`RestoreUncachedMeta`.

    Args:
        data_root (str): ``data_root`` of the dataset.
        cache_dir (str): The resized cache.
        sizes (dict[str, list[int]]): Original ``[h, w]`` of each image, by
            path relative to ``data_root`` (the manifest's ``sizes``).
        labels (bool): Whether the cache holds the label maps.
    """

    def __init__(self, data_root: str, cache_dir: str,
                 sizes: Dict[str, List[int]], labels: bool) -> None:
        self.data_root = data_root
        self.cache_dir = cache_dir
        self.sizes = sizes
        self.labels = labels

    def transform(self, results: dict) -> dict:
        """Redirect the paths of one sample."""
        img_path = results['img_path']
        rel = relative_path(img_path, self.data_root)
        results['resized_cache_original'] = dict(
            img_path=img_path,
            seg_map_path=results.get('seg_map_path'),
            ori_shape=tuple(self.sizes[rel]))
        results['img_path'] = osp.join(self.cache_dir, rel)
        if self.labels and results.get('seg_map_path'):
            results['seg_map_path'] = osp.join(
                self.cache_dir,
                relative_path(results['seg_map_path'], self.data_root))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cache_dir={self.cache_dir!r}, '
                f'labels={self.labels})')


class RestoreUncachedMeta(BaseTransform):
    """Undo :class:`RedirectToResizedCache` in the meta information.

    Placed right after the ``Resize``: restores the original paths,
    ``ori_shape`` and the ``scale_factor`` the ``Resize`` computes from the
    original size.
    """

    def transform(self, results: dict) -> dict:
        """Restore the meta information of one sample."""
        original = results.pop('resized_cache_original')
        results['img_path'] = original['img_path']
        if original['seg_map_path'] is not None:
            results['seg_map_path'] = original['seg_map_path']
        h, w = original['ori_shape']
        new_h, new_w = results['img'].shape[:2]
        results['ori_shape'] = (h, w)
        results['scale_factor'] = (new_w / w, new_h / h)
        return results


@DATASETS.register_module()
class ResizedCacheDataset:
    """A dataset whose images (and labels) are read from a resized cache.

    Example config (cache made by ``tools/dataset_converters/
    resize_cache.py``)::

        source_train_dataset = dict(
            type='ResizedCacheDataset',
            cache_dir='data/gta_1280x720',
            dataset=dict(type='GTAVDataset', data_root='data/gta', ...))

    Args:
        dataset (dict): Config of the wrapped dataset; its pipeline must
            contain the ``Resize`` the cache was made with.
        cache_dir (str): Directory written by the resize-cache tool.
        lazy_init (bool): Defer loading the data list and checking the cache
            files until first use. Defaults to False.

    Raises:
        FileNotFoundError: If the cache or its manifest is missing, or (at
            ``full_init``) the cache lacks a file the dataset lists.
        ValueError: If the cache was made for other Resize settings, or the
            pipeline cannot be cached (see :func:`pipeline_cache_plan`).
    """

    def __init__(self,
                 dataset: dict,
                 cache_dir: str,
                 lazy_init: bool = False) -> None:
        if not isinstance(dataset, dict):
            raise TypeError('`dataset` of ResizedCacheDataset must be a '
                            f'config dict, got {type(dataset)}')
        where = f'{dataset.get("type")} (wrapped by ResizedCacheDataset)'
        data_root = dataset.get('data_root')
        if not data_root:
            raise ValueError(f'{where} needs a `data_root`: the cache keeps '
                             'paths relative to it')
        plan = pipeline_cache_plan(dataset.get('pipeline'), where)
        self.cache_dir = cache_dir
        self.manifest = read_manifest(cache_dir)
        check_settings(self.manifest, plan['settings'], cache_dir)
        self.labels = plan['settings']['labels']
        pipeline = list(dataset['pipeline'])
        pipeline.insert(plan['resize_index'] + 1, RestoreUncachedMeta())
        pipeline.insert(
            0,
            RedirectToResizedCache(data_root, cache_dir,
                                   self.manifest['sizes'], self.labels))
        cfg = copy.deepcopy(dataset)
        cfg['pipeline'] = pipeline
        cfg['lazy_init'] = True
        self.dataset = DATASETS.build(cfg)
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """dict: The wrapped dataset's meta information."""
        return self.dataset.metainfo

    @property
    def data_root(self) -> Optional[str]:
        """str: ``data_root`` of the wrapped (original) dataset."""
        return self.dataset.data_root

    def full_init(self) -> None:
        """Load the wrapped data list and check the cache holds every file.

        Raises:
            FileNotFoundError: Naming the cache and the first missing file.
        """
        if self._fully_initialized:
            return
        self.dataset.full_init()
        on_disk = list_cache_files(self.cache_dir)
        sizes = self.manifest['sizes']
        missing = []
        for idx in range(len(self.dataset)):
            info = self.dataset.get_data_info(idx)
            rel = relative_path(info['img_path'], self.data_root)
            wanted = [rel]
            if self.labels and info.get('seg_map_path'):
                wanted.append(
                    relative_path(info['seg_map_path'], self.data_root))
            if rel not in sizes:
                missing.append(rel)
            missing.extend(path for path in wanted if path not in on_disk)
        if missing:
            raise FileNotFoundError(
                f'resized cache {self.cache_dir!r} lacks {missing[0]!r} '
                f'({len(set(missing))} file(s) the dataset lists are '
                f'missing); re-run {TOOL} to complete it')
        self._fully_initialized = True

    def get_data_info(self, idx: int) -> dict:
        """Data info (original paths) of sample ``idx``."""
        return self.dataset.get_data_info(idx)

    def __getitem__(self, idx: int) -> Any:
        self.full_init()
        return self.dataset[idx]

    def __len__(self) -> int:
        self.full_init()
        return len(self.dataset)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cache_dir={self.cache_dir!r}, '
                f'dataset={type(self.dataset).__name__}'
                f'(data_root={self.data_root!r}))')
