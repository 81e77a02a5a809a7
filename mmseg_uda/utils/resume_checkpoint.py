"""Pick the newest readable checkpoint of a work dir for ``--resume``.

mmengine resumes from the file named in ``<work_dir>/last_checkpoint`` and
fails when that file is cut short (a process killed while saving, a full
disk). :func:`find_resume_checkpoint` tries the candidates newest first and
falls back to the previous one with a warning naming both files.
"""
import glob
import logging
import os.path as osp
import re
from typing import Dict, List, NamedTuple, Optional

import torch
from mmengine.logging import print_log

from .checkpoint_globals import mmengine_checkpoint_globals

_STEP_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


class ReadableCheckpoint(NamedTuple):
    """A checkpoint file that loaded, and its content."""
    path: str
    checkpoint: dict


def _inside(path: str, directory: str) -> bool:
    """Whether ``path`` lies in ``directory`` (symlinks resolved)."""
    real, root = osp.realpath(path), osp.realpath(directory)
    return osp.dirname(real) == root


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named by ``<work_dir>/last_checkpoint``, if it exists.

    mmengine writes that file in place after each checkpoint, so it may be
    empty or name a file that was removed since; both give None. Only a
    file of ``work_dir`` itself is returned: a path into another directory
    (a work dir that was copied) is looked up in ``work_dir`` by its file
    name, with a warning, and never followed.

    Args:
        work_dir (str): The training work dir.

    Returns:
        str, optional: The path of an existing file of ``work_dir``, else
        None.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        path = f.read().strip()
    if not path:
        print_log(f'{record} is empty: looking for checkpoints in '
                  f'{work_dir}', logger='current', level=logging.WARNING)
        return None
    own = osp.join(work_dir, osp.basename(path))
    if osp.isfile(path) and not _inside(path, work_dir):
        print_log(f'{record} names {path}, outside the work dir {work_dir} '
                  '(a copied work dir?): not resuming from it; looking for '
                  f'checkpoints in {work_dir}', logger='current',
                  level=logging.WARNING)
    elif osp.isfile(path):
        return path
    if osp.isfile(own):
        return own
    print_log(f'{record} names {path}, which does not exist in {work_dir}: '
              f'looking for checkpoints in {work_dir}', logger='current',
              level=logging.WARNING)
    return None


def list_step_checkpoints(work_dir: str) -> List[str]:
    """``iter_<n>.pth`` and ``epoch_<n>.pth`` files of ``work_dir``.

    Args:
        work_dir (str): The training work dir.

    Returns:
        list[str]: The paths, highest ``n`` first.
    """
    found = []
    for path in glob.glob(osp.join(glob.escape(work_dir), '*.pth')):
        match = _STEP_NAME.match(osp.basename(path))
        if match and osp.isfile(path):
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found, reverse=True)]


def resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints to resume from, the one to try first first.

    The file ``last_checkpoint`` names comes first, then the step
    checkpoints from the highest step down.

    Args:
        work_dir (str): The training work dir.

    Returns:
        list[str]: Paths of existing files, without duplicates.
    """
    candidates = []
    last = read_last_checkpoint(work_dir)
    if last is not None:
        candidates.append(last)
    for path in list_step_checkpoints(work_dir):
        if not any(osp.samefile(path, c) for c in candidates):
            candidates.append(path)
    return candidates


class UnreadableCheckpointError(RuntimeError):
    """A checkpoint file that ``torch.load`` cannot read (cut short,
    corrupt, not a checkpoint); the message names the file."""


def load_checkpoint_file(path: str) -> dict:
    """``torch.load`` a checkpoint to CPU with mmengine's types allowed.

    Args:
        path (str): The checkpoint file.

    Returns:
        dict: Its content.

    Raises:
        UnreadableCheckpointError: Naming ``path`` and torch's error, for a
            file that cannot be read (e.g. cut short by a kill).
        ValueError: If the content is not a dict.
    """
    try:
        with mmengine_checkpoint_globals():
            checkpoint = torch.load(path, map_location='cpu')
    except Exception as exc:
        raise UnreadableCheckpointError(
            f'cannot read checkpoint {path} ({type(exc).__name__}: {exc}); '
            'the file may be cut short (a job killed while saving, a full '
            'disk) or not be a checkpoint') from exc
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path} holds a {type(checkpoint).__name__}, '
                         'not a checkpoint dict')
    return checkpoint


def _load_resumable(path: str) -> dict:
    """Load ``path`` and check it holds what mmengine resumes from."""
    checkpoint = load_checkpoint_file(path)
    missing = [k for k in ('meta', 'state_dict') if k not in checkpoint]
    if missing:
        raise KeyError(f'{path} lacks {missing}: not a training checkpoint')
    return checkpoint


def find_resume_checkpoint(work_dir: str) -> Optional[ReadableCheckpoint]:
    """The newest checkpoint of ``work_dir`` that can be loaded.

    Each candidate of :func:`resume_candidates` is loaded in turn; when one
    cannot be read, a warning names it and the file used instead.

    Args:
        work_dir (str): The training work dir.

    Returns:
        ReadableCheckpoint, optional: The file and its content; None when
        the work dir holds no checkpoint (training starts afresh).

    Raises:
        RuntimeError: If there are checkpoints but none can be read; the
            message lists each with its error.
    """
    if not osp.isdir(work_dir):
        return None
    failures: Dict[str, str] = {}
    for path in resume_candidates(work_dir):
        try:
            checkpoint = _load_resumable(path)
        except Exception as e:  # any unreadable file: try the previous one
            failures[path] = f'{type(e).__name__}: {e}'
            continue
        if failures:
            skipped = ', '.join(failures)
            print_log(
                f'cannot read checkpoint {skipped} ('
                f'{"; ".join(failures.values())}); resuming from the '
                f'previous checkpoint {path} instead',
                logger='current', level=logging.WARNING)
        return ReadableCheckpoint(path, checkpoint)
    if not failures:
        return None
    listing = '\n'.join(f'  {p}: {err}' for p, err in failures.items())
    raise RuntimeError(
        f'--resume: no readable checkpoint in {work_dir}:\n{listing}')
