"""Optimizers and optimizer wrapper constructors."""
from .multi_optim_wrapper_constructor import MultiOptimWrapperConstructor
from .originals_listing_constructor import (
    OriginalsListingOptimWrapperConstructor, originals_listing_multiplicity)
from .torch04_sgd import Torch04SGD

__all__ = [
    'MultiOptimWrapperConstructor', 'OriginalsListingOptimWrapperConstructor',
    'Torch04SGD', 'originals_listing_multiplicity'
]
