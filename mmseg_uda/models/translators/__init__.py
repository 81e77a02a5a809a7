"""Image translators (BDL's CycleGAN with a segmentation perceptual loss)."""
from .cyclegan_translator import CycleGANTranslator
from .image_pool import ImagePool
from .patch_discriminator import PatchDiscriminator
from .perceptual_loss import (build_frozen_segmentor, perceptual_distance,
                              unit_rgb_to_segmentor_input)
from .resnet_generator import ResnetGenerator

__all__ = [
    'CycleGANTranslator', 'ImagePool', 'PatchDiscriminator',
    'ResnetGenerator', 'build_frozen_segmentor', 'perceptual_distance',
    'unit_rgb_to_segmentor_input'
]
