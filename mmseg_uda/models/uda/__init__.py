"""UDA models: a stock segmentor held by composition plus the method."""
from .adversarial_uda_segmentor import (AdversarialUDASegmentor,
                                        LevelDiscriminators)
from .advent_uda_segmentor import AdvEntUDASegmentor, MinEntUDASegmentor
from .base_uda_segmentor import BaseUDASegmentor
from .dacs_uda_segmentor import DACSUDASegmentor

__all__ = ['BaseUDASegmentor', 'AdversarialUDASegmentor',
           'LevelDiscriminators', 'AdvEntUDASegmentor',
           'MinEntUDASegmentor', 'DACSUDASegmentor']
