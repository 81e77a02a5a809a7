"""Segmentors."""
from .uda_encoder_decoder import UDAEncoderDecoder

__all__ = ['UDAEncoderDecoder']
