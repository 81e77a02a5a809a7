"""The GAN objectives of the adversarial models and the translator."""
from typing import Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class GANLoss(nn.Module):
    """GAN objective of discriminator logits against a constant label.

    ``'vanilla'``: binary cross-entropy with logits (AdaptSegNet, ADVENT,
    BDL's segmentation side); ``'lsgan'``: mean squared error (AdaptSegNet's
    LS-GAN, CycleGAN). The discriminators output logits (no sigmoid).

    Args:
        gan_type (str): ``'vanilla'`` or ``'lsgan'``.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    GAN_TYPES = ('vanilla', 'lsgan')

    def __init__(self, gan_type: str = 'vanilla',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if gan_type not in self.GAN_TYPES:
            raise ValueError(f'gan_loss must be one of {self.GAN_TYPES}, '
                             f'got {gan_type!r}')
        self.gan_type = gan_type
        self.loss_weight = loss_weight

    def forward(self, logits: Tensor, label: float) -> Tensor:
        """The weighted loss of ``logits`` against ``label`` everywhere.

        Args:
            logits (Tensor): Discriminator outputs of any shape.
            label (float): The domain (or real/fake) label, e.g. 0 or 1.

        Returns:
            Tensor: The mean loss, a scalar.
        """
        target = torch.full_like(logits, label)
        if self.gan_type == 'lsgan':
            loss = F.mse_loss(logits, target)
        else:
            loss = F.binary_cross_entropy_with_logits(logits, target)
        return self.loss_weight * loss

    def score(self, logits: Tensor) -> Tensor:
        """Discriminator outputs as a score in which 0.5 separates the
        labels 0 and 1 (the sigmoid for ``'vanilla'``, as is for
        ``'lsgan'``)."""
        return torch.sigmoid(logits) if self.gan_type == 'vanilla' \
            else logits


def build_gan_loss(cfg: Union[str, dict]) -> nn.Module:
    """Build a GAN loss from a type name (``'vanilla'``, ``'lsgan'``) or a
    config (``type`` defaults to ``'GANLoss'``).

    Args:
        cfg (str | dict): The ``gan_loss`` option of a model.

    Returns:
        nn.Module: The loss, called as ``loss(logits, label)``.
    """
    if isinstance(cfg, str):
        cfg = dict(gan_type=cfg)
    if not isinstance(cfg, dict):
        raise TypeError("gan_loss must be 'vanilla', 'lsgan' or a loss "
                        f'config dict, got {cfg!r}')
    cfg = dict(cfg)
    cfg.setdefault('type', 'GANLoss')
    return MODELS.build(cfg)
