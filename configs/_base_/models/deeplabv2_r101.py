# DeepLab-v2 ResNet-101 exactly as AdaptSegNet/ADVENT/IntraDA/BDL build it:
# single 7x7 stem with ceil-mode max-pool, caffe-style bottlenecks, layer3/4
# dilated 2/4 (output stride 8), frozen BN parameters with batch statistics in
# train mode, and classifiers that sum 3x3 dilated convs straight to classes:
# the main one on layer4 (2048 ch), the auxiliary one on layer3 (1024 ch).
# ImageNet/COCO init: convert DeepLab_resnet_pretrained_init-f81d91e8.pth with
# tools/model_converters/original_deeplabv2.py (see README).
pretrained = 'checkpoints/deeplabv2_r101_init.pth'
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # Caffe-style: BGR images (as loaded), BGR mean subtracted, no std.
    mean=[104.00698793, 116.66876762, 122.67891434],
    std=[1.0, 1.0, 1.0],
    bgr_to_rgb=False,
    # Inputs are resized (not cropped) to one size per domain: stack as is.
    size_divisor=1,
    pad_val=0,
    seg_pad_val=255)
# The classifier of both levels: dilated 3x3 convs straight to the classes,
# summed; CE over the non-ignored pixels of the logits upsampled with
# align_corners=True.
classifier = dict(
    type='DeepLabV2Head',
    dilations=(6, 12, 18, 24),
    num_classes=19,
    align_corners=True,
    loss_decode=dict(
        type='CrossEntropyLoss',
        use_sigmoid=False,
        loss_weight=1.0,
        avg_non_ignore=True))
model = dict(
    type='UDAEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='DeepLabV2ResNet',
        depth=101,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(2, 3),
        style='caffe',
        norm_cfg=norm_cfg,
        norm_eval=False,
        ceil_mode=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    # main classifier on layer4
    decode_head=dict(classifier, in_channels=2048, in_index=1),
    # auxiliary classifier on layer3, loss weight 0.1
    auxiliary_head=dict(
        classifier,
        in_channels=1024,
        in_index=0,
        loss_decode=dict(classifier['loss_decode'], loss_weight=0.1)),
    train_cfg=dict(),
    # The originals' protocol: logits upsampled once, bilinearly with
    # align_corners=True, to the full label size before the argmax.
    test_cfg=dict(mode='whole', logits_to_ori_shape=True))
