"""Readable errors for samples that cannot be loaded, and the opt-in mode
that skips them.

A sample whose image or label cannot be decoded (or whose label does not
match its image) is reported as a :class:`BadSampleError` naming the dataset
(class and ``data_root``), the sample index and its files, and which of them
failed (``image`` or ``label``) when the failing transform tells it.

With ``bad_samples='skip'`` a dataset logs a warning for the bad sample,
counts it in its :class:`BadSampleTracker` and uses another sample instead.
The tracker stops the run with :class:`TooManyBadSamplesError` once more
samples failed than ``max_bad_samples`` allows, or when many samples in a row
failed, so that a broken dataset never trains silently on nothing.
Counts are per process: every dataloader worker holds its own tracker.
"""
import logging
import math
from types import TracebackType
from typing import Any, Optional, Set, Union

from mmcv.transforms import LoadAnnotations, LoadImageFromFile
from mmengine.logging import print_log

BAD_SAMPLE_MODES = ('error', 'skip')


class BadSampleError(RuntimeError):
    """A sample whose files cannot be loaded (the cause is chained).

    Args:
        head (str): Which sample of which dataset, e.g. ``"cannot load
            sample 3 of GTAVDataset(data_root='data/gta')"``.
        detail (str): Which file failed and why.
    """

    def __init__(self, head: str, detail: str) -> None:
        super().__init__(f'{head}: {detail}')
        self.head = head
        self.detail = detail


class TooManyBadSamplesError(RuntimeError):
    """More samples failed than a dataset in skip mode tolerates."""


def describe_dataset(dataset: Any) -> str:
    """Name a dataset by its class and ``data_root`` for messages."""
    root = getattr(dataset, 'data_root', None)
    return f'{type(dataset).__name__}(data_root={root!r})'


def sample_files(dataset: Any, idx: int) -> dict:
    """The image and label paths of sample ``idx`` (``'<unknown>'`` when
    the dataset cannot tell them)."""
    try:
        info = dataset.get_data_info(idx)
        return dict(
            image=info.get('img_path'), label=info.get('seg_map_path'))
    except Exception:  # keep the original error visible
        return dict(image='<unknown>', label='<unknown>')


def transform_role(transform: Any) -> Optional[str]:
    """``'image'``/``'label'`` for the loading transforms, else None."""
    if isinstance(transform, LoadImageFromFile):
        return 'image'
    if isinstance(transform, LoadAnnotations):
        return 'label'
    return None


def failing_transform(exc: BaseException) -> Optional[Any]:
    """The innermost data transform among the frames ``exc`` went through.

    Used for datasets whose pipeline runs out of our hands (e.g. mmseg's
    ``CityscapesDataset``): the frame of the transform that raised holds
    it as ``self``.
    """
    from mmcv.transforms import BaseTransform

    found = None
    tb: Optional[TracebackType] = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get('self')
        if isinstance(owner, BaseTransform):
            found = owner
        tb = tb.tb_next
    return found


def sample_head(dataset: Any, idx: int,
                domain: Optional[str] = None) -> str:
    """``"cannot load [<domain> ]sample <idx> of <dataset>"``."""
    where = f'{domain} sample' if domain else 'sample'
    return f'cannot load {where} {idx} of {describe_dataset(dataset)}'


def bad_sample_error(dataset: Any,
                     idx: int,
                     exc: BaseException,
                     transform: Any = None,
                     domain: Optional[str] = None,
                     files: Optional[dict] = None) -> BadSampleError:
    """Describe why sample ``idx`` of ``dataset`` could not be loaded.

    Args:
        dataset: The dataset (named by class and ``data_root``).
        idx (int): Index of the sample in ``dataset``.
        exc (BaseException): What the pipeline raised.
        transform: The transform that raised; looked up in the traceback
            when None.
        domain (str, optional): ``'source'``/``'target'`` in UDA pairs.
        files (dict, optional): ``image``/``label`` paths the pipeline was
            reading; by default those of ``dataset.get_data_info(idx)``.

    Returns:
        BadSampleError: To raise (from ``exc``) or log; its message reads
        e.g. ``"cannot load source sample 0 of GTAVDataset(data_root=
        'data/gta'): image 'data/gta/images/00001.png' (label '...'):
        AssertionError: ..."``.
    """
    if transform is None:
        transform = failing_transform(exc)
    if files is None:
        files = sample_files(dataset, idx)
    role = transform_role(transform)
    if role is not None and files.get(role) is not None:
        other = 'label' if role == 'image' else 'image'
        what = f'{role} {files[role]!r}'
        if files.get(other) is not None:
            what += f' ({other} {files[other]!r})'
    else:
        what = ', '.join(f'{name} {path!r}' for name, path in files.items()
                         if path is not None)
        if transform is not None:
            what += f', in transform {type(transform).__name__}'
    return BadSampleError(
        sample_head(dataset, idx, domain),
        f'{what}: {type(exc).__name__}: {exc}')


def check_mode(mode: str, max_bad: Union[int, float]) -> None:
    """Validate ``bad_samples`` and ``max_bad_samples`` options.

    Raises:
        ValueError: If ``mode`` is not one of :data:`BAD_SAMPLE_MODES`, or
            ``max_bad`` is neither an int ``>= 0`` nor a float in [0, 1].
    """
    if mode not in BAD_SAMPLE_MODES:
        raise ValueError(f'bad_samples must be one of {BAD_SAMPLE_MODES}, '
                         f'got {mode!r}')
    valid = (isinstance(max_bad, int) and not isinstance(max_bad, bool)
             and max_bad >= 0) or (isinstance(max_bad, float)
                                   and 0.0 <= max_bad <= 1.0)
    if not valid:
        raise ValueError(
            'max_bad_samples must be a number of samples (int >= 0) or a '
            f'fraction of the dataset (float in [0, 1]), got {max_bad!r}')


class BadSampleTracker:
    """Counts the bad samples of one dataset and decides when to stop.

    Args:
        mode (str): ``'error'`` (a bad sample raises) or ``'skip'`` (it is
            logged, counted and replaced by another sample).
        max_bad (int | float): How many distinct bad samples are tolerated
            in skip mode: an int is a number of samples, a float a fraction
            of the dataset's length (rounded down).
        max_consecutive (int): Failures in a row after which a dataset in
            skip mode stops whatever ``max_bad`` says.

    Raises:
        ValueError: See :func:`check_mode`.
    """

    def __init__(self,
                 mode: str = 'error',
                 max_bad: Union[int, float] = 0.05,
                 max_consecutive: int = 50) -> None:
        check_mode(mode, max_bad)
        self.mode = mode
        self.max_bad = max_bad
        self.max_consecutive = max_consecutive
        self.indices: Set[int] = set()
        self.consecutive = 0

    @property
    def skip(self) -> bool:
        """bool: Whether bad samples are skipped."""
        return self.mode == 'skip'

    @property
    def count(self) -> int:
        """int: Number of distinct bad samples seen by this process."""
        return len(self.indices)

    def limit(self, length: int) -> int:
        """Number of bad samples tolerated in a dataset of ``length``."""
        if isinstance(self.max_bad, float):
            return math.floor(self.max_bad * length)
        return self.max_bad

    def succeeded(self) -> None:
        """Note that a sample was loaded (ends a run of failures)."""
        self.consecutive = 0

    def record(self, idx: int, message: str, length: int,
               name: str) -> None:
        """Log and count a skipped sample; stop when too many failed.

        Args:
            idx (int): Index of the bad sample.
            message (str): What failed (see :func:`bad_sample_error`).
            length (int): Length of the dataset.
            name (str): The dataset, for the messages.

        Raises:
            TooManyBadSamplesError: If more distinct samples than
                :meth:`limit` failed, or ``max_consecutive`` in a row.
        """
        self.indices.add(idx)
        self.consecutive += 1
        limit = self.limit(length)
        if self.count > limit:
            raise TooManyBadSamplesError(
                f'{self.count} of the {length} samples of {name} could not '
                f'be loaded, more than max_bad_samples={self.max_bad!r} '
                f'allows ({limit}); last: {message}')
        if self.consecutive >= self.max_consecutive:
            raise TooManyBadSamplesError(
                f'{self.consecutive} samples in a row of {name} could not '
                f'be loaded; last: {message}')
        print_log(
            f'skipping bad sample ({self.count} so far, at most {limit} '
            f'tolerated): {message}',
            logger='current',
            level=logging.WARNING)
