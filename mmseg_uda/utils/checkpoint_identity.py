"""What identifies the model a job ran with, for outputs kept on disk."""
import os
import os.path as osp


def checkpoint_identity(path: str) -> str:
    """The checkpoint's absolute path, size and modification time.

    Jobs that keep results on disk across runs (rankings, pseudo-labels)
    record it, so that results of another checkpoint, or of the same file
    overwritten, are never reused.

    Args:
        path (str): The checkpoint file.

    Returns:
        str: e.g. ``/abs/iter_12.pth size=123 mtime_ns=456``.
    """
    stat = os.stat(path)
    return (f'{osp.abspath(path)} size={stat.st_size} '
            f'mtime_ns={stat.st_mtime_ns}')
