"""The normalisation a data preprocessor applies, read from its public
attributes."""
from typing import Optional, Tuple

import torch.nn as nn
from torch import Tensor


def preprocessor_normalization(
        preprocessor: Optional[nn.Module]) -> Optional[Tuple[Tensor, Tensor]]:
    """The per-channel ``mean`` and ``std`` a preprocessor normalises with.

    mmseg's ``SegDataPreProcessor`` (and ours) registers the ``mean`` and
    ``std`` buffers only when configured with them; without them the images
    are passed on unnormalised. The channel order of ``mean``/``std`` is the
    order after the preprocessor's ``channel_conversion`` (BGR to RGB).

    Args:
        preprocessor (nn.Module, optional): A data preprocessor.

    Returns:
        tuple[Tensor, Tensor] | None: ``mean`` and ``std`` of shape (C,)
        (views of the buffers, on their device), or None when the
        preprocessor does not normalise.
    """
    mean = getattr(preprocessor, 'mean', None)
    std = getattr(preprocessor, 'std', None)
    if not isinstance(mean, Tensor) or not isinstance(std, Tensor):
        return None
    return mean.view(-1), std.view(-1)
