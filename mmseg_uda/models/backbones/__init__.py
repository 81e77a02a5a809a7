"""Backbones."""
from .deeplabv2_resnet import DeepLabV2ResNet

__all__ = ['DeepLabV2ResNet']
