"""Segmentors."""
from .ensemble_segmentor import EnsembleSegmentor
from .uda_encoder_decoder import UDAEncoderDecoder

__all__ = ['UDAEncoderDecoder', 'EnsembleSegmentor']
