"""Let ``torch.load(weights_only=True)`` read mmengine's own checkpoints.

Since torch 2.6, ``torch.load`` only unpickles allow-listed types by default.
mmengine 0.10.x checkpoints hold more than tensors: the message hub's
``HistoryBuffer`` objects (numpy arrays inside) and numpy scalars in the
runtime info, so ``--resume`` (and testing a checkpoint written by a training
run) fails with an ``UnpicklingError``. Rather than switching the check off
(``weights_only=False`` runs arbitrary code from the file), we allow exactly
the extra types those checkpoints contain: while a runner loads them
(:func:`mmengine_checkpoint_globals`), and, once ``mmseg_uda`` is imported,
for every ``torch.load`` of the process
(:func:`allow_mmengine_checkpoint_types`), so that mmseg's own
``init_model`` reads our training checkpoints.
"""
import contextlib
import pickle
from typing import Callable, Iterator, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


def _numpy_globals() -> List[Union[object, Tuple[object, str]]]:
    """numpy reconstructors and dtypes as pickled by numpy 1.x and 2.x."""
    core = getattr(np, '_core', None) or np.core
    multiarray = core.multiarray
    allowed: List[Union[object, Tuple[object, str]]] = [
        np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar
    ]
    # numpy 2 pickles name `numpy._core`, numpy 1 pickles `numpy.core`.
    for name in ('_reconstruct', 'scalar'):
        allowed.append((getattr(multiarray, name),
                        f'numpy.core.multiarray.{name}'))
    # numpy >= 1.25 pickles dtypes as instances of these classes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in ('Float16DType', 'Float32DType', 'Float64DType',
                     'Int8DType', 'Int16DType', 'Int32DType', 'Int64DType',
                     'UInt8DType', 'UInt16DType', 'UInt32DType',
                     'UInt64DType', 'BoolDType'):
            if hasattr(dtypes, name):
                allowed.append(getattr(dtypes, name))
    return allowed


_DEFAULT_STATISTICS = ('min', 'max', 'mean', 'current')


def history_buffer_statistic(owner: object, name: str) -> Callable:
    """A ``getattr`` that resolves only ``HistoryBuffer`` statistics methods.

    ``HistoryBuffer`` pickles its ``statistics_methods`` dict, whose values
    (``HistoryBuffer.min`` ...) pickle as ``getattr(HistoryBuffer, 'min')``.
    Allowing the builtin ``getattr`` would let a file reach any attribute of
    any allowed object, so this stand-in is registered under its name and
    refuses everything else.

    Args:
        owner (object): The object the pickle asks an attribute of.
        name (str): The attribute name.

    Returns:
        Callable: The statistics method.

    Raises:
        pickle.UnpicklingError: For anything but a statistics method of
            ``HistoryBuffer``.
    """
    allowed = set(_DEFAULT_STATISTICS) | set(HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in allowed and \
            not name.startswith('_'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({owner!r}, {name!r}); only '
        'HistoryBuffer statistics methods are allowed')


def mmengine_checkpoint_types() -> List[Union[object, Tuple[object, str]]]:
    """The types mmengine checkpoints hold besides tensors and builtins."""
    return [HistoryBuffer, (history_buffer_statistic, 'builtins.getattr')
            ] + _numpy_globals()


@contextlib.contextmanager
def mmengine_checkpoint_globals() -> Iterator[None]:
    """Context in which ``torch.load`` accepts mmengine's checkpoint types.

    The types stay allowed when the context ends: importing ``mmseg_uda``
    allows them process-wide (:func:`allow_mmengine_checkpoint_types`), and
    torch's own ``safe_globals`` context would take them away again on exit
    from code that relies on that (e.g. ``mmseg.apis.init_model`` called
    after a tool ran in the same process).

    Example:
        >>> with mmengine_checkpoint_globals():
        ...     runner.train()  # resume works under torch >= 2.6
    """
    allow_mmengine_checkpoint_types()
    yield


def allow_mmengine_checkpoint_types() -> bool:
    """Add mmengine's checkpoint types to torch's ``weights_only`` allow-list.

    Process-wide and idempotent; called when ``mmseg_uda`` is imported, so
    that code which is not ours (``mmseg.apis.init_model``, mmengine's
    ``load_checkpoint``) loads checkpoints written by training runs with
    torch's default ``weights_only=True``. Only the types of
    :func:`mmengine_checkpoint_types` are added: data types, and a
    ``getattr`` restricted to ``HistoryBuffer`` statistics methods.

    Returns:
        bool: False on a torch without the allow-list (< 2.4), where
        nothing needs to be allowed.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return False
    add_safe_globals(mmengine_checkpoint_types())
    return True
