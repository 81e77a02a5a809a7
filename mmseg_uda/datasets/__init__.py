"""Datasets of mmseg_uda (registered in mmseg's ``DATASETS`` registry)."""
from .bad_samples import (BadSampleError, BadSampleTracker,
                          TooManyBadSamplesError)
from .class_stats import ClassStatsError, load_class_stats, write_class_stats
from .gta import GTAVDataset
from .label_maps import (GTA_ID_TO_TRAINID, SYNTHIA_13_CLASSES,
                         SYNTHIA_16_CLASSES, SYNTHIA_ID_TO_TRAINID, build_lut,
                         convert_gta_label, convert_synthia_label)
from .rare_class_sampling import (RareClassIndex, RareClassSampling,
                                  rcs_class_probs)
from .resized_cache import ResizedCacheDataset
from .sample_checks import LabelSizeError
from .samplers import SourceTargetSampler
from .source_target_dataset import SourceTargetDataset
from .synthia import SynthiaDataset
from .transforms import LoadPseudoLabels

__all__ = [
    'GTAVDataset', 'SynthiaDataset', 'SourceTargetDataset',
    'ResizedCacheDataset', 'BadSampleError', 'BadSampleTracker',
    'TooManyBadSamplesError', 'LabelSizeError',
    'SourceTargetSampler', 'LoadPseudoLabels', 'GTA_ID_TO_TRAINID',
    'SYNTHIA_ID_TO_TRAINID', 'SYNTHIA_16_CLASSES', 'SYNTHIA_13_CLASSES',
    'build_lut', 'convert_gta_label', 'convert_synthia_label',
    'ClassStatsError', 'load_class_stats', 'write_class_stats',
    'RareClassIndex', 'RareClassSampling', 'rcs_class_probs'
]
