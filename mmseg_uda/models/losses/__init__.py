"""Losses."""
from .entropy_loss import EntropyLoss, entropy_loss, self_information_map
from .feature_distance_loss import FeatureDistanceLoss, feature_distance
from .gan_loss import GANLoss, build_gan_loss

__all__ = [
    'EntropyLoss', 'FeatureDistanceLoss', 'feature_distance', 'GANLoss', 'build_gan_loss', 'entropy_loss',
    'self_information_map'
]
