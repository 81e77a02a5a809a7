"""Early, cheap consistency checks shared by the UDA source datasets.

:class:`CheckedDatasetMixin` is mixed in front of
:class:`mmseg.datasets.BaseSegDataset`. At data-list load time it verifies,
using directory listings only (no decoding), that

* the image directory (and the label directory, when ``seg_map_path`` is set)
  exists,
* every listed image exists (relevant with an ``ann_file`` split list),
* every image has its label file, and
* no label file is left whose image does not exist.

When a sample is loaded, the pipeline is run transform by transform so that,
right after decoding (before any ``Resize``), the label is checked to have
its image's size and label values that are no class become 255 (see
:mod:`mmseg_uda.datasets.sample_checks`). A sample that fails (e.g. an image
that cannot be decoded) raises a
:class:`~mmseg_uda.datasets.bad_samples.BadSampleError` naming the dataset,
the failing file and its role, or, with ``bad_samples='skip'``, is logged,
counted and replaced by another sample.
"""
import logging
from typing import Any, Iterable, List, Optional, Set, Union

from mmengine import fileio
from mmengine.logging import print_log

from .bad_samples import BadSampleTracker, bad_sample_error, describe_dataset
from .sample_checks import check_label_size, ignore_unknown_labels


def _strip_dir(path: str, directory: str) -> str:
    """Return ``path`` relative to ``directory`` (pure string operation)."""
    if directory and path.startswith(directory):
        return path[len(directory):].lstrip('/\\')
    return path


def _join(directory: str, name: str) -> str:
    return fileio.join_path(directory, name) if directory else name


def _list_files(directory: str, suffix: str,
                backend_args: Optional[dict]) -> Set[str]:
    """Relative paths of all files under ``directory`` ending in ``suffix``."""
    return set(
        fileio.list_dir_or_file(
            directory,
            list_dir=False,
            suffix=suffix,
            recursive=True,
            backend_args=backend_args))


def _require_dir(directory: str, kind: str,
                 backend_args: Optional[dict]) -> None:
    if not fileio.isdir(directory, backend_args=backend_args):
        raise FileNotFoundError(
            f'{kind} directory not found: {directory!r} (check `data_root` '
            'and `data_prefix` of the dataset config)')


def _first_and_count(items: Iterable[Any]) -> tuple:
    items = sorted(items)
    return items[0], len(items)


def check_data_list(data_list: List[dict],
                    img_dir: str,
                    ann_dir: Optional[str],
                    img_suffix: str,
                    seg_map_suffix: str,
                    backend_args: Optional[dict] = None,
                    hint: str = '') -> None:
    """Check that images and label files of a segmentation data list match.

    Args:
        data_list (list[dict]): Data infos with ``img_path`` and (when
            ``ann_dir`` is given) ``seg_map_path``.
        img_dir (str): Image directory (already joined with ``data_root``).
        ann_dir (str, optional): Label directory; ``None`` or ``''`` skips all
            label checks.
        img_suffix (str): Suffix of image files.
        seg_map_suffix (str): Suffix of label files.
        backend_args (dict, optional): mmengine file backend arguments.
        hint (str): Extra sentence appended to label-related errors, e.g. how
            to generate the label files.

    Raises:
        FileNotFoundError: Naming the first offending directory or file (and
            the number of offending files) when a directory is missing, a
            listed image does not exist, an image has no label file, or a label
            file has no image.
    """
    _require_dir(img_dir, 'image', backend_args)
    if ann_dir:
        _require_dir(ann_dir, 'label', backend_args)
    images = _list_files(img_dir, img_suffix, backend_args)

    missing_imgs = [
        info['img_path'] for info in data_list
        if _strip_dir(info['img_path'], img_dir) not in images
    ]
    if missing_imgs:
        first, count = _first_and_count(missing_imgs)
        raise FileNotFoundError(
            f'image file not found: {first!r} ({count} listed image(s) '
            f'missing from {img_dir!r})')
    if not ann_dir:
        return

    labels = _list_files(ann_dir, seg_map_suffix, backend_args)
    hint = f' {hint}' if hint else ''
    missing_labels = [
        (info['seg_map_path'], info['img_path']) for info in data_list
        if _strip_dir(info['seg_map_path'], ann_dir) not in labels
    ]
    if missing_labels:
        (label, img), count = _first_and_count(missing_labels)
        raise FileNotFoundError(
            f'label file not found: {label!r} for image {img!r} ({count} '
            f'image(s) without a label file).{hint}')

    cut = len(seg_map_suffix)
    orphans = []
    for label in labels:
        img = label[:-cut] + img_suffix
        if img not in images:
            orphans.append((_join(ann_dir, label), _join(img_dir, img)))
    if orphans:
        (label, img), count = _first_and_count(orphans)
        raise FileNotFoundError(
            f'label file for a missing image: {label!r} has no image {img!r} '
            f'({count} label file(s) without an image)')


class CheckedDatasetMixin:
    """Adds early file checks and readable pipeline errors to a dataset.

    Use as the first base: ``class MyDataset(CheckedDatasetMixin,
    BaseSegDataset)``. Subclasses may set :attr:`LABEL_HINT` to a sentence that
    is appended to missing-label errors.

    Args:
        bad_samples (str): ``'error'`` (default): a sample that cannot be
            loaded raises :class:`~mmseg_uda.datasets.bad_samples.
            BadSampleError`. ``'skip'``: it is logged (a warning naming the
            file) and counted, and another sample is used (mmengine's
            refetch); only in training, a dataset in ``test_mode`` always
            raises.
        max_bad_samples (int | float): In skip mode, how many distinct
            samples may fail before the run stops with
            :class:`~mmseg_uda.datasets.bad_samples.TooManyBadSamplesError`:
            an int is a number of samples, a float a fraction of the dataset.
            Counted per dataloader worker. Defaults to 0.05.
        **kwargs: Passed to the dataset base class.
    """

    LABEL_HINT: str = ''

    def __init__(self,
                 *args,
                 bad_samples: str = 'error',
                 max_bad_samples: Union[int, float] = 0.05,
                 **kwargs) -> None:
        self.bad_sample_tracker = BadSampleTracker(bad_samples,
                                                   max_bad_samples)
        self._warned_label_files: Set[str] = set()
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Load the data list of the base class, then check it on disk.

        Returns:
            list[dict]: The unchanged data list of the base class.

        Raises:
            FileNotFoundError: See :func:`check_data_list`.
            ValueError: If the dataset holds no image (naming the image
                directory).
        """
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path') or None
        backend_args = getattr(self, 'backend_args', None)
        # Fail on missing directories before the base class lists them.
        _require_dir(img_dir, 'image', backend_args)
        if ann_dir:
            _require_dir(ann_dir, 'label', backend_args)
        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(
                f'no images ending in {self.img_suffix!r} in the image '
                f'directory {img_dir!r} of {describe_dataset(self)} (or none '
                'listed in its ann_file): check `data_root` and `data_prefix`')
        check_data_list(
            data_list,
            img_dir=img_dir,
            ann_dir=ann_dir,
            img_suffix=self.img_suffix,
            seg_map_suffix=self.seg_map_suffix,
            backend_args=backend_args,
            hint=self.LABEL_HINT)
        return data_list

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline on sample ``idx``, checking it as it is decoded.

        Args:
            idx (int): Index of the sample.

        Returns:
            Any: Output of the pipeline; None when a transform returned None
            or, in skip mode, when the sample is bad (mmengine then draws
            another sample).

        Raises:
            BadSampleError: If the pipeline raises or the label does not
                match its image; the message names the dataset, the image
                and label paths and the failing one; the original exception
                is chained.
            TooManyBadSamplesError: In skip mode, when too many failed.
        """
        info = self.get_data_info(idx)
        transform = None
        results = info.copy()
        try:
            img_hw = label_hw = None
            # mmengine's Compose is a plain list of transforms
            transforms = getattr(self.pipeline, 'transforms',
                                 [self.pipeline])
            for transform in transforms:
                results = transform(results)
                if results is None:
                    return None
                decoded = False
                if img_hw is None and 'img' in results:
                    img_hw = tuple(results['img'].shape[:2])
                    decoded = True
                if label_hw is None and 'gt_seg_map' in results:
                    label_hw = tuple(results['gt_seg_map'].shape)
                    self._ignore_unknown_labels(results['gt_seg_map'],
                                                info.get('seg_map_path'))
                    decoded = True
                if decoded and img_hw and label_hw:
                    transform = None  # the sample is bad, not a transform
                    check_label_size(img_hw, label_hw)
        except Exception as exc:
            # the paths being read (a transform may have redirected them)
            files = dict(image=results.get('img_path', info.get('img_path')),
                         label=results.get('seg_map_path',
                                           info.get('seg_map_path')))
            error = bad_sample_error(self, idx, exc, transform, files=files)
            if not self.bad_sample_tracker.skip or self.test_mode:
                raise error from exc
            self.bad_sample_tracker.record(idx, str(error), len(self),
                                           describe_dataset(self))
            return None
        self.bad_sample_tracker.succeeded()
        return results

    def _ignore_unknown_labels(self, label: Any,
                               label_path: Optional[str]) -> None:
        """Unknown label values -> ignore index, warned once per file."""
        num_classes = len(self.metainfo.get('classes') or ())
        if not num_classes:
            return
        ignore_index = getattr(self, 'ignore_index', 255)
        _, count, values = ignore_unknown_labels(label, num_classes,
                                                 ignore_index)
        if count and label_path not in self._warned_label_files:
            self._warned_label_files.add(label_path)
            print_log(
                f'label {label_path!r} of {describe_dataset(self)} has '
                f'{count} pixel(s) with values {list(values)} outside the '
                f'{num_classes} classes; they are ignored (set to '
                f'{ignore_index})',
                logger='current',
                level=logging.WARNING)
