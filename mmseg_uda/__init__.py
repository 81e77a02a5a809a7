"""mmseg_uda: unsupervised domain adaptation for mmsegmentation 1.x.

Importing the package registers every component in mmseg's registries and
lets ``torch.load(weights_only=True)`` read the mmengine types that training
checkpoints hold (see :mod:`mmseg_uda.utils.checkpoint_globals`).
"""
from . import datasets, engine, evaluation, models  # noqa: F401
from .utils import allow_mmengine_checkpoint_types
from .version import __version__

allow_mmengine_checkpoint_types()

__all__ = ['__version__']
