# DAFormer's DeepLab-v2 (lhoyer/MIC seg/configs/_base_/models/
# deeplabv2_r50-d8.py + deeplabv2red_r50-d8.py, experiments.py 'dlv2red'
# with backbone 'r101v1c'): mmseg's ResNetV1c-101 (deep stem, trainable BN,
# output stride 8 through dilations 2/4 in layer3/4, contract_dilation), one
# DeepLab-v2 classifier on layer4 summing the rates (6, 12) ('red': the rates
# the originals' code really uses), ImageNet RGB normalisation, 512x512 crops.
# Its 512x512 crops give 64x64 features, which DAFormer's feature distance
# needs (the originals' ceil-mode stem, ./deeplabv2_r101.py, gives 65x65).
data_preprocessor = dict(
    type='UDASegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(512, 512),  # DAFormer's crops, padded to one size for ClassMix
    pad_val=0,
    seg_pad_val=255)
norm_cfg = dict(type='BN', requires_grad=True)
# ImageNet init: mmcv's open-mmlab://resnet101_v1c
# (resnet101_v1c-e67eebb6.pth), saved at this path
pretrained = 'checkpoints/resnet101_v1c.pth'
model = dict(
    type='UDAEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        type='DeepLabV2Head',  # DAFormer's DLV2Head: summed dilated convs
        in_channels=2048,
        in_index=3,
        dilations=(6, 12),
        num_classes=19,
        align_corners=False,
        init_std=0.01,  # DLV2Head init_cfg: Normal std 0.01
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    # our evaluation protocol: logits upsampled once to the label size
    test_cfg=dict(mode='whole', logits_to_ori_shape=True))
