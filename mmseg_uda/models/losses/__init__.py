"""Losses."""
from .entropy_loss import EntropyLoss, entropy_loss, self_information_map

__all__ = ['EntropyLoss', 'entropy_loss', 'self_information_map']
