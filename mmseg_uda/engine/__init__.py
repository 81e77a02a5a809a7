"""Engine components: registering them in mmseg's registries on import.

Also registers the ``'atomic_local'`` file backend in mmengine's, which the
checkpoint hooks of the shipped configs save with
(``backend_args=dict(backend='atomic_local')``).
"""
from mmengine.fileio import register_backend

from mmseg_uda.utils.atomic_file_backend import (ATOMIC_LOCAL_BACKEND,
                                                 AtomicLocalBackend)
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403

register_backend(ATOMIC_LOCAL_BACKEND, AtomicLocalBackend)
