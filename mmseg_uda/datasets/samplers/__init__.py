"""Data samplers of mmseg_uda (registered in mmseg's ``DATA_SAMPLERS``)."""
from .source_target_sampler import SourceTargetSampler, target_stream_seed

__all__ = ['SourceTargetSampler', 'target_stream_seed']
