"""mmseg_uda: unsupervised domain adaptation for mmsegmentation 1.x.

Importing the package registers every component in mmseg's registries.
"""
from . import datasets, engine, evaluation, models  # noqa: F401
from .version import __version__

__all__ = ['__version__']
