"""Segmentors."""
from .ensemble_segmentor import EnsembleSegmentor
from .hrda_encoder_decoder import HRDAEncoderDecoder
from .uda_encoder_decoder import UDAEncoderDecoder

__all__ = ['UDAEncoderDecoder', 'EnsembleSegmentor', 'HRDAEncoderDecoder']
