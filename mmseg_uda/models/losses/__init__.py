"""Losses."""
from .entropy_loss import EntropyLoss, entropy_loss, self_information_map
from .gan_loss import GANLoss, build_gan_loss

__all__ = [
    'EntropyLoss', 'GANLoss', 'build_gan_loss', 'entropy_loss',
    'self_information_map'
]
