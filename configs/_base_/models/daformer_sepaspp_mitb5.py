# DAFormer's network: mmseg's MiT-B5 encoder and the DAFormer head with
# context-aware fusion (lhoyer/MIC seg/configs/_base_/models/
# daformer_sepaspp_mitb5.py on top of daformer_conv1_mitb5.py): a 256-d
# linear embedding per level, concatenated at level 0's size and fused by a
# depthwise-separable ASPP with dilations (1, 6, 12, 18), no pooling branch,
# BN + ReLU after every conv.
crop_size = (512, 512)
# ImageNet normalisation in RGB (mmseg's SegFormer and all DAFormer runs)
data_preprocessor = dict(
    type='UDASegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=crop_size,
    pad_val=0,
    seg_pad_val=255)
norm_cfg = dict(type='BN', requires_grad=True)  # DAFormer: BN, not SyncBN
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth'  # noqa
model = dict(
    type='UDAEncoderDecoder',
    data_preprocessor=data_preprocessor,
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
        type='DAFormerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        decoder_params=dict(
            embed_dims=256,
            embed_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            embed_neck_cfg=dict(type='mlp', act_cfg=None, norm_cfg=None),
            fusion_cfg=dict(
                type='aspp',
                sep=True,
                dilations=(1, 6, 12, 18),
                pool=False,
                act_cfg=dict(type='ReLU'),
                norm_cfg=norm_cfg)),
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    # our evaluation protocol: logits upsampled once to the label size
    test_cfg=dict(mode='whole', logits_to_ori_shape=True))
