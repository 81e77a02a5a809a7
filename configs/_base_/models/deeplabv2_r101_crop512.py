# DeepLab-v2 R101 as DAFormer's DeepLab-v2 runs use it (experiments.py,
# 'dlv2red'): single-level (no auxiliary classifier) summing rates (6, 12),
# fed 512x512 crops. DAFormer's network is mmseg's ResNetV1c (trainable BN,
# ImageNet init, RGB normalisation); this one is the originals' DeepLab-v2
# (see ./deeplabv2_r101.py).
_base_ = ['./deeplabv2_r101_adaptseg.py']  # R101, rates (6, 12)
# ClassMix needs one size per batch: pad to the crop (DAFormer's Pad)
data_preprocessor = dict(size=(512, 512), size_divisor=None)
model = dict(auxiliary_head=None, data_preprocessor=data_preprocessor)
