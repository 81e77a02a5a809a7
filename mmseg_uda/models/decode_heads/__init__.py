"""Decode heads."""
from .daformer_head import DAFormerHead
from .deeplabv2_head import DeepLabV2Head

__all__ = ['DAFormerHead', 'DeepLabV2Head']
