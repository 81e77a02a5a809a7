# GTA5 -> Cityscapes at high resolution, as HRDA and MIC(HRDA) feed it
# (lhoyer/MIC seg/configs/_base_/datasets/
# uda_gtaHR_to_cityscapesHR_1024x1024.py): GTA5 resized to fit 2560x1440
# and Cityscapes to 2048x1024 keeping the ratio (bilinear), random 1024x1024
# crops (a source crop holds at most 75% of one class), flip 0.5; 2 source +
# 2 target images per iteration. The target images carry HRDA's
# pseudo-label margins (the top 30, bottom 240, left 30 and right 30 pixels
# of the resized image, Cityscapes' rectification border and ego car: HRDA's
# crop_pseudo_margins), marked before the crop so that only a crop at the
# image border loses pseudo-labels. Photometric augmentation runs in the
# model (colour jitter, blur: ../uda/dacs.py).
_base_ = ['./uda_gta2cityscapes_512x512.py']  # datasets, loaders, IoUMetric
hr_source_scale = (2560, 1440)  # (w, h)
hr_target_scale = (2048, 1024)  # (w, h)
crop_size = (1024, 1024)
# (top, bottom, left, right) in pixels of the resized target image
pseudo_label_margins = [30, 240, 30, 30]
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=hr_source_scale, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# The flip comes before the margins and the crop: the margin mask is made
# on the whole (flipped) image and cropped with it; PackUDASegInputs packs
# it into the data sample as valid_pseudo_mask.
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=hr_target_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PseudoLabelMargins', margins=pseudo_label_margins),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackUDASegInputs'),
]
# HRDA's evaluation: the whole image at 2048x1024 (keep ratio, bilinear; a
# no-op on Cityscapes), no flip, no multi-scale, predicted by the model's
# sliding windows (test_cfg); the labels keep their full size (2048x1024).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=hr_target_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# HRDA: samples_per_gpu=2 (the base's batch), workers_per_gpu=4 (its
# configs then use 1, see ../../hrda/hrda_mitb5_gta2cs.py)
train_dataloader = dict(
    dataset=dict(
        source=dict(pipeline=source_train_pipeline),
        target=dict(pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
