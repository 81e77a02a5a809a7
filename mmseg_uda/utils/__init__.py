"""Utilities."""
from .amp import AMP_DTYPES, check_amp_available, enable_amp
from .checkpoint_globals import (allow_mmengine_checkpoint_types,
                                 mmengine_checkpoint_globals,
                                 mmengine_checkpoint_types)
from .classifier_rates import keep_first_rates
from .config_check import accepted_keys, check_uda_config
from .cpu_dist import setup_cpu_dist
from .original_deeplabv2 import convert_original_deeplabv2

__all__ = [
    'AMP_DTYPES', 'check_amp_available', 'enable_amp', 'setup_cpu_dist',
    'mmengine_checkpoint_globals', 'mmengine_checkpoint_types',
    'allow_mmengine_checkpoint_types',
    'convert_original_deeplabv2', 'keep_first_rates', 'accepted_keys',
    'check_uda_config'
]
