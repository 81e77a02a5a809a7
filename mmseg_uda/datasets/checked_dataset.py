"""Early, cheap consistency checks shared by the UDA source datasets.

:class:`CheckedDatasetMixin` is mixed in front of
:class:`mmseg.datasets.BaseSegDataset`. At data-list load time it verifies,
using directory listings only (no decoding), that

* the image directory (and the label directory, when ``seg_map_path`` is set)
  exists,
* every listed image exists (relevant with an ``ann_file`` split list),
* every image has its label file, and
* no label file is left whose image does not exist.

A sample that fails inside the pipeline (e.g. an image that cannot be decoded)
is re-raised as a :class:`RuntimeError` naming the image and label paths.
"""
from typing import Any, Iterable, List, Optional, Set

from mmengine import fileio


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
    """

    LABEL_HINT: str = ''

    def load_data_list(self) -> List[dict]:
        """Load the data list of the base class, then check it on disk.

        Returns:
            list[dict]: The unchanged data list of the base class.

        Raises:
            FileNotFoundError: See :func:`check_data_list`.
        """
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path') or None
        backend_args = getattr(self, 'backend_args', None)
        # Fail on missing directories before the base class lists them.
        _require_dir(img_dir, 'image', backend_args)
        if ann_dir:
            _require_dir(ann_dir, 'label', backend_args)
        data_list = super().load_data_list()
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
        """Run the pipeline on sample ``idx``, naming its files on failure.

        Args:
            idx (int): Index of the sample.

        Returns:
            Any: Output of the pipeline.

        Raises:
            RuntimeError: If the pipeline raises; the message names the image
                and label paths and the original exception is chained.
        """
        try:
            return super().prepare_data(idx)
        except Exception as exc:
            try:
                info = self.get_data_info(idx)
                img = info.get('img_path')
                label = info.get('seg_map_path')
            except Exception:  # keep the original error visible
                img = label = '<unknown>'
            raise RuntimeError(
                f'failed to load sample {idx} of {type(self).__name__} '
                f'(image {img!r}, label {label!r}): '
                f'{type(exc).__name__}: {exc}') from exc
