# SegFormer on mmseg's MiT-B5 encoder (configs/segformer/segformer_mit-b5_*.py)
# with DAFormer's SegFormer decoder width (embed_dim 768, mmseg's default is
# 256) and DAFormer's normalisation; DAFormer's own head replaces the decoder
# in daformer_sepaspp_mitb5.py.
# ImageNet normalisation in RGB (mmseg's SegFormer and all DAFormer runs)
data_preprocessor = dict(
    type='UDASegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(512, 512),  # DAFormer's crops, padded to one size per batch
    pad_val=0,
    seg_pad_val=255)
norm_cfg = dict(type='BN', requires_grad=True)  # DAFormer: BN, not SyncBN
# MiT-B5 ImageNet weights in mmseg's layout. The original release's links
# died (DAFormer#74, MIC#68); convert the released mit_b5.pth with
#   python tools/model_converters/mit_b5.py pretrained/mit_b5.pth \
#       checkpoints/mit_b5_mmseg.pth
# or put mmseg's mit_b5_20220624-658746d9.pth (the same layout) here.
checkpoint = 'checkpoints/mit_b5_mmseg.pth'
model = dict(
    type='UDAEncoderDecoder',
    data_preprocessor=data_preprocessor,
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
