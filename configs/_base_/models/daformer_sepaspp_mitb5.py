# DAFormer's network: mmseg's MiT-B5 encoder and the DAFormer head with
# context-aware fusion (lhoyer/MIC seg/configs/_base_/models/
# daformer_sepaspp_mitb5.py on top of daformer_conv1_mitb5.py): a 256-d
# linear embedding per level, concatenated at level 0's size and fused by a
# depthwise-separable ASPP with dilations (1, 6, 12, 18), no pooling branch,
# BN + ReLU after every conv.
_base_ = ['./segformer_mitb5.py']  # MiT-B5, preprocessor, test protocol
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DAFormerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=_base_.norm_cfg,
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
                norm_cfg=_base_.norm_cfg)),
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
