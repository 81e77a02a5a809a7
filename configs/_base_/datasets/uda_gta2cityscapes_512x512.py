# GTA5 -> Cityscapes as DAFormer feeds it (lhoyer/MIC seg/configs/_base_/
# datasets/uda_gta_to_cityscapes_512x512.py): GTA5 resized to fit 1280x720
# and Cityscapes to 1024x512 keeping the ratio (bilinear), random 512x512
# crops (a source crop holds at most 75% of one class), flip 0.5; 2 source +
# 2 target images per iteration. Photometric augmentation runs in the model
# (colour jitter, blur: ../uda/dacs.py).
_base_ = ['./uda_gta2cityscapes.py']  # datasets, loaders, IoUMetric
crop_size = (512, 512)
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=_base_.source_scale, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=_base_.target_scale, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# DAFormer's evaluation: the whole image at 1024x512 (keep ratio, bilinear),
# no flip, no multi-scale; labels are loaded after the resize, so the
# prediction is scored at the full label size (2048x1024).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=_base_.target_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# DAFormer: samples_per_gpu=2, workers_per_gpu=4, 1 GPU
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    dataset=dict(
        source=dict(pipeline=source_train_pipeline),
        target=dict(pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
