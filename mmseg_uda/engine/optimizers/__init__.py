"""Optimizers and optimizer wrapper constructors."""
from .multi_optim_wrapper_constructor import (MultiOptimWrapperConstructor,
                                              originals_listing_multiplicity)
from .torch04_sgd import Torch04SGD

__all__ = [
    'MultiOptimWrapperConstructor', 'Torch04SGD',
    'originals_listing_multiplicity'
]
