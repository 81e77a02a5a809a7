"""Atomic file writes: a temporary file in the destination's directory,
renamed into place, so no reader ever sees a half-written file."""
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable

import cv2
import numpy as np

# The process umask, to give renamed files the usual permissions (mkstemp
# creates them 0600).
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Run ``write(tmp)`` on a temporary file, then move it to ``path``.

    Args:
        path (str): Destination; its directory is created if missing.
        write (Callable[[str], None]): Writes the content to the given
            temporary path (in the same directory as ``path``).
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, 'wb') as f:
            f.write(data)

    atomic_write(path, write)


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode())


def atomic_write_png(path: str, array: np.ndarray) -> None:
    """Encode ``array`` (HxW label map or HxWx3 BGR image) as PNG, atomically.

    Raises:
        OSError: If OpenCV cannot encode the array.
    """
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise OSError(f'cannot encode {path} as PNG')
    atomic_write_bytes(path, buf.tobytes())


def atomic_copy(src: str, dst: str) -> None:
    """Copy ``src`` to ``dst`` atomically."""
    atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))
