"""Discriminators: plain modules mapping an input map to logits."""
from .fc_discriminator import FCDiscriminator

__all__ = ['FCDiscriminator']
