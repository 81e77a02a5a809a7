"""Data preprocessors of mmseg_uda (registered in mmseg's ``MODELS``)."""
from .normalization import preprocessor_normalization
from .uda_data_preprocessor import UDASegDataPreProcessor

__all__ = ['UDASegDataPreProcessor', 'preprocessor_normalization']
