# A light DeepLab-v2 for the CPU demo: the same layout as deeplabv2_r101.py
# (ceil-mode stem, dilated layer3/4 at output stride 8, summed dilated 3x3
# classifiers on layer4 and layer3) on a ResNet-18 with 16 base channels,
# trained from scratch with trainable BN.
_base_ = ['./deeplabv2_r101.py']  # the DeepLab-v2 model this shrinks
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(
        depth=18,
        stem_channels=16,
        base_channels=16,
        style='pytorch',
        norm_cfg=norm_cfg,
        init_cfg=None),
    decode_head=dict(in_channels=128, dilations=(1, 3, 6)),
    auxiliary_head=dict(in_channels=64, dilations=(1, 3, 6)))
