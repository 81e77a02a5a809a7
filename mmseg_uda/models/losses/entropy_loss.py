"""ADVENT's normalised entropy and weighted self-information maps."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

# Added inside log2 so that p = 0 gives 0 * log2(1e-30) = 0, not NaN.
LOG_EPS = 1e-30


def self_information_map(probs: Tensor) -> Tensor:
    """ADVENT's weighted self-information map of class probabilities.

    ``-p * log2(p + 1e-30) / log2(C)`` per class and pixel; its sum over
    classes is the entropy normalised to [0, 1].

    Computed in float32 at least: in float16 or bfloat16 (mixed precision)
    ``1e-30`` rounds to 0 and ``0 * log2(0)`` would give NaN.

    Args:
        probs (Tensor): Probabilities of shape (N, C, H, W), summing to 1
            over C.

    Returns:
        Tensor: The map, of the same shape as ``probs``, float32 or wider.
    """
    num_classes = probs.shape[1]
    if num_classes < 2:
        raise ValueError(f'need at least 2 classes, got {num_classes}')
    if probs.dtype in (torch.float16, torch.bfloat16):
        probs = probs.float()
    return -probs * torch.log2(probs + LOG_EPS) / math.log2(num_classes)


def entropy_loss(probs: Tensor) -> Tensor:
    """ADVENT's entropy loss: the mean normalised entropy per pixel.

    ``-sum(p * log2(p + 1e-30)) / (N * H * W * log2(C))``.

    Args:
        probs (Tensor): Probabilities of shape (N, C, H, W).

    Returns:
        Tensor: A scalar in [0, 1].
    """
    if probs.dim() != 4:
        raise ValueError(f'expected (N, C, H, W) probabilities, got shape '
                         f'{tuple(probs.shape)}')
    return self_information_map(probs).sum(dim=1).mean()


@MODELS.register_module()
class EntropyLoss(nn.Module):
    """Normalised entropy of the predictions (ADVENT's MinEnt loss).

    Args:
        use_softmax (bool): Whether inputs are logits to apply a softmax to
            over dim 1 (True) or probabilities already (False).
        loss_weight (float): Weight of the loss.
        loss_name (str): Name of the loss, for logging.
    """

    def __init__(self,
                 use_softmax: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ent') -> None:
        super().__init__()
        self.use_softmax = use_softmax
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, inputs: Tensor) -> Tensor:
        """Weighted entropy loss of logits or probabilities (N, C, H, W)."""
        probs = F.softmax(inputs, dim=1) if self.use_softmax else inputs
        return self.loss_weight * entropy_loss(probs)

    @property
    def loss_name(self) -> str:
        """Name of the loss, for logging."""
        return self._loss_name
