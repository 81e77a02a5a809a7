# DACS on SegFormer MiT-B5 (mmseg's MixVisionTransformer + SegformerHead),
# GTA5 -> Cityscapes: the same method and data as
# deeplabv2_r101_dacs_gta2cs.py with the network swapped by config, as in
# DAFormer's Table 1 ('segformer' + 'mitb5' + 'dacs').
_base_ = [
    './deeplabv2_r101_dacs_gta2cs.py',  # method, data, schedule, crops
]
crop_size = (512, 512)
# ImageNet normalisation in RGB (mmseg's SegFormer and all DAFormer runs)
imagenet_rgb_preprocessor = dict(
    type='UDASegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=crop_size,
    pad_val=0,
    seg_pad_val=255)
norm_cfg = dict(type='BN', requires_grad=True)  # DAFormer: BN, not SyncBN
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth'  # noqa
segformer_mitb5 = dict(
    type='UDAEncoderDecoder',
    data_preprocessor=imagenet_rgb_preprocessor,
    # mmseg's MiT-B5 (configs/segformer/segformer_mit-b5_*.py)
    backbone=dict(
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[3, 6, 40, 3],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        # DAFormer's SegFormer-B5 decoder: embed_dim 768 (mmseg default 256)
        channels=768,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    # our evaluation protocol: logits upsampled once to the label size
    test_cfg=dict(mode='whole', logits_to_ori_shape=True))
model = dict(_delete_=True, segmentor=segformer_mitb5, **_base_.uda)
# DAFormer for MiT encoders: no weight decay on positional blocks and norms
optim_wrapper = dict(
    segmentor=dict(
        paramwise_cfg=dict(
            custom_keys=dict(
                head=dict(lr_mult=10.0),
                pos_block=dict(decay_mult=0.0),
                norm=dict(decay_mult=0.0)))))
