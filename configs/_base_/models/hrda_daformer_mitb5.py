# HRDA's network over DAFormer on MiT-B5 (lhoyer/MIC seg/configs/hrda/
# gtaHR2csHR_hrda.py on top of seg/configs/_base_/models/
# daformer_sepaspp_mitb5.py): a context crop at half resolution and a
# 512x512 detail crop at full resolution inside it, the DAFormer head on
# each, fused by a learned class-wise scale attention; the detail loss has
# weight 0.1. Pseudo-labels slide overlapping detail windows over the whole
# target crop; the test slides batched 1024x1024 windows at stride 512 over
# the whole 2048x1024 image.
_base_ = ['./daformer_sepaspp_mitb5.py']  # MiT-B5, DAFormer head
model = dict(
    type='HRDAEncoderDecoder',
    # HRDA's 1024x1024 crops, padded to one size per batch
    data_preprocessor=dict(size=(1024, 1024)),
    decode_head=dict(
        type='HRDAHead',
        # the DAFormer head (of the base) on each scale
        single_scale_head='DAFormerHead',
        # one attention channel per class; HRDAHead's default width
        attention_classwise=True,
        attention_embed_dim=256,
        # the detail loss weight lambda_d; no separate context loss
        hr_loss_weight=0.1,
        lr_loss_weight=0),
    # full resolution for the detail crop, half for the context
    scales=[1, 0.5],
    # the detail crop: 512x512 of the 1024x1024 crop, its offsets
    # divisible by 8 (output stride 4 times the scale factor 2)
    hr_crop_size=(512, 512),
    crop_coord_divisible=8,
    # the feature distance compares the context (0.5) features, as DAFormer
    feature_scale=0.5,
    # pseudo-labels: overlapping (stride 256) detail windows
    hr_slide_inference=True,
    hr_slide_overlapping=True,
    blur_hr_crop=False,
    # the test: batched 1024x1024 windows at stride 512 (replaces the
    # base's whole-image test_cfg)
    test_cfg=dict(
        _delete_=True,
        mode='slide',
        batched_slide=True,
        stride=(512, 512),
        crop_size=(1024, 1024)))
