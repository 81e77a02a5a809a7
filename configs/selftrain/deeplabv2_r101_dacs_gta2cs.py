# DACS on DeepLab-v2 R101, GTA5 -> Cityscapes, with the numbers of DAFormer's
# DACS DeepLab-v2 runs (experiments.py, 'dlv2red' + 'dacs'): single-level
# DeepLab-v2 summing rates (6, 12), batch 2 source + 2 target, 512x512
# crops, AdamW 6e-5, 40k iterations. DAFormer's network is mmseg's ResNetV1c
# (trainable BN, ImageNet init, RGB normalisation); this one is the
# originals' DeepLab-v2 (see configs/_base_/models/deeplabv2_r101.py).
_base_ = [
    '../_base_/models/deeplabv2_r101_adaptseg.py',  # R101, rates (6, 12)
    '../_base_/datasets/uda_gta2cityscapes.py',  # GTA5 -> CS, val 1024x512
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_dacs_40k.py',  # EMA teacher, AdamW, 40k
    '../_base_/uda/dacs.py',  # the method: ClassMix, threshold, jitter
]
crop_size = (512, 512)  # DAFormer uda_gta_to_cityscapes_512x512.py
model = dict(
    _delete_=True,
    segmentor=dict(
        _base_.model,
        # single-level, as DAFormer's DeepLab-v2 (no auxiliary classifier)
        auxiliary_head=None,
        # ClassMix needs one size per batch: pad to the crop (DAFormer's Pad)
        data_preprocessor=dict(
            _base_.data_preprocessor, size=crop_size, size_divisor=None)),
    **_base_.uda)
# DAFormer's training pipelines: resize keeping the ratio, random 512x512
# crop (at most 75% of one class on the source), flip 0.5.
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# DAFormer: samples_per_gpu=2 (2 source + 2 target images), 1 GPU
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    dataset=dict(
        source=dict(pipeline=source_train_pipeline),
        target=dict(pipeline=target_train_pipeline)))
