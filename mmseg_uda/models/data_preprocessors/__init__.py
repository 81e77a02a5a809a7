"""Data preprocessors of mmseg_uda (registered in mmseg's ``MODELS``)."""
from .uda_data_preprocessor import UDASegDataPreProcessor

__all__ = ['UDASegDataPreProcessor']
