"""A local file backend whose writes are atomic, for checkpoints.

mmengine's ``save_checkpoint`` serialises the whole checkpoint to memory and
writes it with ``file_backend.put(bytes, path)``. Its ``local`` backend opens
the destination directly, so a process killed while writing (or a full disk)
leaves a truncated ``iter_*.pth`` that ``--resume`` then fails to read. This
backend writes a temporary file in the destination's directory, flushes it to
disk and renames it into place: a checkpoint file is either complete or
absent. :mod:`mmseg_uda.engine` registers it in mmengine's file backends as
``'atomic_local'`` (``custom_imports=dict(imports=['mmseg_uda'])`` does it);
the checkpoint hook selects it with::

    default_hooks = dict(
        checkpoint=dict(backend_args=dict(backend='atomic_local')))
"""
import os
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend

from .atomic_io import atomic_write

#: The name the checkpoint hook's ``backend_args`` select it by.
ATOMIC_LOCAL_BACKEND = 'atomic_local'


def _write_synced(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` and flush it to the disk."""
    with open(path, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class AtomicLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` with atomic ``put``/``put_text``.

    Reads, listings and removals are the local backend's.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write ``obj`` to ``filepath`` via a temporary file and a rename.

        Args:
            obj (bytes): Data to be written.
            filepath (str or Path): Destination; its directory is created
                if missing.
        """
        atomic_write(str(filepath), lambda tmp: _write_synced(obj, tmp))

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write the text ``obj`` to ``filepath`` atomically.

        Args:
            obj (str): Text to be written.
            filepath (str or Path): Destination.
            encoding (str): The text encoding. Defaults to 'utf-8'.
        """
        self.put(obj.encode(encoding), filepath)

