"""A virtual dataset pairing every source sample with every target sample.

:class:`SourceTargetDataset` wraps a labelled source dataset and an
(unlabelled) target dataset. Item ``idx`` is the pair
``(idx // len(target), idx % len(target))``, so the wrapper is as long as the
product of both lengths without materialising anything. Which pairs are drawn
during training is decided by
:class:`mmseg_uda.datasets.samplers.SourceTargetSampler`, which shuffles the
two domains independently.

A sample of either domain that cannot be loaded raises a
:class:`~mmseg_uda.datasets.bad_samples.BadSampleError` naming the domain,
the dataset and the files, also for datasets that are not ours (e.g. mmseg's
``CityscapesDataset`` on the target side); with ``bad_samples='skip'`` it is
logged, counted per domain and replaced by another sample of that domain.

With ``rare_class_sampling`` on (DAFormer's RCS, see
:mod:`mmseg_uda.datasets.rare_class_sampling`), the sampler draws the class
and the source image, and the dataset re-crops that image until the class
is kept.
"""
import copy
import inspect
import os.path as osp
import warnings
from typing import Any, Optional, Tuple, Union

import numpy as np
from mmengine import fileio
from mmseg.registry import DATASETS
from torch.utils.data import Dataset

from .bad_samples import (BadSampleError, BadSampleTracker,
                          TooManyBadSamplesError, bad_sample_error,
                          sample_head)
from .rare_class_sampling import (MAX_CROP_RETRIES, RareClassIndex,
                                  RareClassSampling, label_of)


def _image_dir(cfg: dict) -> Optional[str]:
    """The image directory a dataset config names, if it names one."""
    prefix = cfg.get('data_prefix') or {}
    img_path = prefix.get('img_path') if isinstance(prefix, dict) else None
    if img_path is None:
        return None
    return osp.join(cfg.get('data_root') or '', img_path)


def _img_suffix(cfg: dict) -> Optional[str]:
    """``img_suffix`` of a dataset config, or its class's default."""
    if 'img_suffix' in cfg:
        return cfg['img_suffix']
    cls = cfg.get('type')
    if isinstance(cls, str):
        cls = DATASETS.get(cls)
    if not inspect.isclass(cls):
        return None
    param = inspect.signature(cls.__init__).parameters.get('img_suffix')
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default


def _holds_images(directory: str, suffix: Optional[str]) -> bool:
    """Whether ``directory`` holds a file ending in ``suffix``
    (recursively)."""
    files = fileio.list_dir_or_file(
        directory, list_dir=False, suffix=suffix, recursive=True)
    return next(iter(files), None) is not None


def _build_domain(cfg: dict, role: str) -> Dataset:
    """Build the ``role`` (source/target) dataset, naming the domain and
    the image directory when that directory holds no image.

    mmengine's datasets fail on an empty data list with numpy's "need at
    least one array to concatenate"; other errors get a note naming the
    domain.
    """
    try:
        return DATASETS.build(cfg)
    except Exception as exc:
        img_dir = _image_dir(cfg)
        suffix = _img_suffix(cfg)
        if img_dir is not None and osp.isdir(img_dir) and \
                not _holds_images(img_dir, suffix):
            raise ValueError(
                f'the {role} dataset ({cfg.get("type")}) has no images: '
                f'the image directory {img_dir!r} holds no file ending in '
                f'{suffix!r}; check `{role}.data_root` and '
                f'`{role}.data_prefix`') from exc
        exc.add_note(f'while building the {role} dataset {cfg.get("type")} '
                     f'(image directory {img_dir!r})')
        raise


def _build(dataset: Union[dict, Dataset], role: str) -> Dataset:
    """Build a dataset from a config, or check that it looks like one."""
    if isinstance(dataset, dict):
        return _build_domain(dataset, role)
    if not (hasattr(dataset, '__len__') and hasattr(dataset, '__getitem__')):
        raise TypeError(f'`{role}` should be a dataset config (dict) or a '
                        f'dataset, but got {type(dataset)}')
    return dataset


def _describe(dataset: Dataset) -> str:
    """Name a dataset by its type and root for error messages."""
    root = getattr(dataset, 'data_root', None)
    return f'{type(dataset).__name__}(data_root={root!r})'


def _classes(dataset: Dataset) -> Optional[tuple]:
    """The dataset's ``metainfo['classes']`` as a tuple, or ``None``."""
    metainfo = getattr(dataset, 'metainfo', None) or {}
    classes = metainfo.get('classes')
    return None if classes is None else tuple(classes)


def _class_difference(source: Optional[tuple],
                      target: Optional[tuple]) -> str:
    """Readable description of how two class lists differ."""
    if source is None or target is None:
        return f'source classes: {source}; target classes: {target}'
    lines = [f'source has {len(source)} classes, target has {len(target)}']
    for i in range(max(len(source), len(target))):
        src = source[i] if i < len(source) else '<missing>'
        tgt = target[i] if i < len(target) else '<missing>'
        if src != tgt:
            lines.append(f'  class {i}: source {src!r} != target {tgt!r}')
    return '\n'.join(lines)


@DATASETS.register_module()
class SourceTargetDataset(Dataset):
    """Pairs of one source and one target sample.

    Item ``idx`` is ``dict(source=source[s], target=target[t])`` with
    ``s, t = divmod(idx, len(target))``, i.e. ``idx = s * len(target) + t``.
    Both values are the outputs of the respective dataset's own pipeline, so
    mmengine's ``pseudo_collate`` turns a batch into
    ``dict(source=dict(inputs=[...], data_samples=[...]), target=dict(...))``.

    Use it with :class:`mmseg_uda.datasets.samplers.SourceTargetSampler`;
    mmengine's ``InfiniteSampler`` would shuffle the virtual product and
    allocate memory proportional to ``len(source) * len(target)``.

    Args:
        source (dict | Dataset): The labelled source dataset or its config.
        target (dict | Dataset): The target dataset or its config.
        lazy_init (bool): Whether to defer ``full_init`` of both datasets
            until the wrapper is first used. Defaults to False.
        bad_samples (str): For both domains: ``'error'`` (default) raises
            on a sample that cannot be loaded; ``'skip'`` logs it (a warning
            naming the domain, dataset and files), counts it and loads
            another random sample of the same domain.
        max_bad_samples (int | float): In skip mode, how many distinct
            samples of one domain may fail before the run stops with
            :class:`~mmseg_uda.datasets.bad_samples.TooManyBadSamplesError`:
            an int is a number of samples, a float a fraction of that
            domain's dataset. Counted per dataloader worker.
            Defaults to 0.05.
        max_refetch (int): In skip mode, how many other samples are tried
            for one item before giving up. Defaults to 100.
        rare_class_sampling (dict, optional): Turns on DAFormer's rare class
            sampling, e.g. ``dict(class_temp=0.01, min_pixels=3000,
            min_crop_ratio=0.5)``; an optional ``stats_dir`` says where the
            class statistics are (default: the source's ``data_root``). See
            :class:`~mmseg_uda.datasets.rare_class_sampling.
            RareClassSampling`. The draws come from
            :class:`~mmseg_uda.datasets.samplers.SourceTargetSampler` as
            :class:`~mmseg_uda.datasets.rare_class_sampling.RareClassIndex`
            items; a plain int index is a plain pair. Defaults to None (off).

    Raises:
        ValueError: If ``metainfo['classes']`` of source and target differ,
            or a bad-sample option is invalid.
        TypeError: If ``source`` or ``target`` is neither a config nor a
            dataset.
    """

    DOMAINS = ('source', 'target')

    def __init__(self,
                 source: Union[dict, Dataset],
                 target: Union[dict, Dataset],
                 lazy_init: bool = False,
                 bad_samples: str = 'error',
                 max_bad_samples: Union[int, float] = 0.05,
                 max_refetch: int = 100,
                 rare_class_sampling: Optional[dict] = None) -> None:
        if rare_class_sampling is not None and not isinstance(
                rare_class_sampling, dict):
            raise TypeError('rare_class_sampling should be a dict or None, '
                            f'got {type(rare_class_sampling)}')
        self._rcs_cfg = rare_class_sampling
        self._rcs: Optional[RareClassSampling] = None
        self._warned_plain_index = False
        if max_refetch < 0:
            raise ValueError(f'max_refetch must be >= 0, got {max_refetch}')
        self.bad_sample_trackers = {
            domain: BadSampleTracker(bad_samples, max_bad_samples)
            for domain in self.DOMAINS
        }
        self.max_refetch = max_refetch
        self.source = _build(source, 'source')
        self.target = _build(target, 'target')
        src_classes = _classes(self.source)
        tgt_classes = _classes(self.target)
        if src_classes != tgt_classes:
            raise ValueError(
                'source and target datasets must have the same classes in '
                f'the same order: source {_describe(self.source)} vs target '
                f'{_describe(self.target)}\n'
                f'{_class_difference(src_classes, tgt_classes)}')
        self._metainfo = copy.deepcopy(
            getattr(self.source, 'metainfo', None) or {})
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """dict: A copy of the source dataset's meta information."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Fully initialise both datasets (load their data lists)."""
        if self._fully_initialized:
            return
        for dataset in (self.source, self.target):
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
        if self._rcs_cfg is not None:
            self._rcs = RareClassSampling(self.source, **self._rcs_cfg)
        self._fully_initialized = True

    @property
    def rare_class_sampling(self) -> Optional[RareClassSampling]:
        """RareClassSampling | None: The RCS draws, if turned on."""
        self.full_init()
        return self._rcs

    @property
    def num_source(self) -> int:
        """int: Number of source samples."""
        self.full_init()
        return len(self.source)

    @property
    def num_target(self) -> int:
        """int: Number of target samples."""
        self.full_init()
        return len(self.target)

    def split_index(self, idx: int) -> Tuple[int, int]:
        """Source and target index of the pair ``idx``.

        Args:
            idx (int): Index into this dataset; negative values count from
                the end.

        Returns:
            tuple[int, int]: ``(s, t)`` with ``idx = s * len(target) + t``.

        Raises:
            IndexError: If ``idx`` is out of range.
        """
        length = len(self)
        if not -length <= idx < length:
            raise IndexError(
                f'index {idx} out of range for {type(self).__name__} of '
                f'length {length} ({self.num_source} source x '
                f'{self.num_target} target samples)')
        return divmod(idx % length, self.num_target)

    def _pair(self, idx: Union[int, RareClassIndex]) -> Tuple[int, int]:
        """Source and target index of a plain or an RCS index."""
        if isinstance(idx, RareClassIndex):
            return idx.source, idx.target
        return self.split_index(idx)

    def get_data_info(self, idx: Union[int, RareClassIndex]) -> dict:
        """Data infos (before the pipelines) of the pair ``idx``.

        Args:
            idx (int): Index into this dataset.

        Returns:
            dict: ``dict(source=..., target=...)`` with each dataset's
            ``get_data_info`` result.
        """
        s, t = self._pair(idx)
        return dict(
            source=self.source.get_data_info(s),
            target=self.target.get_data_info(t))

    def __getitem__(self, idx: Union[int, RareClassIndex]) -> Any:
        """One source and one target sample through their own pipelines.

        Args:
            idx (int | RareClassIndex): ``s * len(target) + t``, or an RCS
                draw, whose source sample is re-cropped until it keeps the
                drawn class.

        Returns:
            dict: ``dict(source=source[s], target=target[t])``.
        """
        s, t = self._pair(idx)
        if isinstance(idx, RareClassIndex):
            source = self._load_rare_class(s, idx.cls)
        else:
            if self._rcs is not None and not self._warned_plain_index:
                self._warned_plain_index = True
                warnings.warn(
                    'rare_class_sampling is on, but the sampler gives plain '
                    'indices: only SourceTargetSampler draws rare classes, '
                    'other samplers get plain pairs', stacklevel=2)
            source = self._load('source', s)
        return dict(source=source, target=self._load('target', t))

    def _load_rare_class(self, idx: int, cls: int) -> Any:
        """Source sample ``idx``, re-loaded (a new random crop each time)
        up to ``MAX_CROP_RETRIES`` more times until its label has more than
        ``min_pixels * min_crop_ratio`` pixels of ``cls``; the last load is
        kept if none does (DAFormer's ``get_rare_class_sample``)."""
        rcs = self.rare_class_sampling
        if rcs is None:
            raise ValueError(
                f'{type(self).__name__} got a rare class sampling index, '
                'but its `rare_class_sampling` option is off')
        data = self._load('source', idx)
        if rcs.min_crop_ratio > 0:
            for _ in range(MAX_CROP_RETRIES):
                label = label_of(data)
                if label is None:
                    raise ValueError(
                        'rare class sampling needs the source pipeline to '
                        'load labels (LoadAnnotations), but source sample '
                        f'{idx} has none')
                if rcs.crop_keeps_class(label, cls):
                    break
                data = self._load('source', idx)
        return data

    def _load(self, domain: str, idx: int) -> Any:
        """Sample ``idx`` of one domain, handling bad samples.

        Raises:
            BadSampleError: In error mode, or in skip mode when no other
                sample could be loaded within ``max_refetch`` tries; names
                the domain, the dataset and the files.
            TooManyBadSamplesError: In skip mode, when too many failed.
        """
        dataset = getattr(self, domain)
        tracker = self.bad_sample_trackers[domain]
        for _ in range(self.max_refetch + 1):
            try:
                data = dataset[idx]
            except TooManyBadSamplesError:
                raise
            except Exception as exc:
                if isinstance(exc, BadSampleError):  # from our datasets
                    error = BadSampleError(
                        sample_head(dataset, idx, domain), exc.detail)
                else:
                    error = bad_sample_error(dataset, idx, exc,
                                             domain=domain)
                if not tracker.skip:
                    raise error from exc
                tracker.record(idx, str(error), len(dataset),
                               f'{domain} {_describe(dataset)}')
                idx = int(np.random.randint(0, len(dataset)))
                continue
            tracker.succeeded()
            return data
        raise BadSampleError(
            f'no loadable {domain} sample of {_describe(dataset)}',
            f'{self.max_refetch + 1} tries failed ({tracker.count} bad '
            'samples so far)')

    def __len__(self) -> int:
        """``len(source) * len(target)``: every pair (nothing stored)."""
        return self.num_source * self.num_target

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(source={_describe(self.source)}, '
                f'target={_describe(self.target)})')
