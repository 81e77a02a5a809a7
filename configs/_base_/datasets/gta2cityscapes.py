# GTA5 (source, labelled) -> Cityscapes (target) at the originals' sizes:
# GTA5 resized (not cropped) to 1280x720, Cityscapes to 1024x512; images
# bicubic (PIL, as the originals), labels nearest; no flip. Validation follows
# the originals' protocol: Cityscapes val fed at 1024x512, scored against the
# full-resolution 2048x1024 gtFine_labelTrainIds.
source_type = 'GTAVDataset'
source_root = 'data/gta'
target_type = 'CityscapesDataset'
target_root = 'data/cityscapes'
source_scale = (1280, 720)  # (w, h)
target_scale = (1024, 512)  # (w, h)

# The originals' resize (give it a `scale`): to a fixed size, bicubic with
# PIL; labels loaded before it are resized nearest.
originals_resize = dict(
    type='Resize', keep_ratio=False, interpolation='bicubic',
    backend='pillow')
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(originals_resize, scale=source_scale),
    dict(type='PackSegInputs'),
]
# Target training images carry no labels in UDA.
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(originals_resize, scale=target_scale),
    dict(type='PackSegInputs'),
]
# Labels are loaded after the resize, so they stay at full resolution.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(originals_resize, scale=target_scale),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]

source_train_dataset = dict(
    type=source_type,
    data_root=source_root,
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    pipeline=source_train_pipeline)
# Optional: read GTA5 already resized to 1280x720 (identical samples, about
# 2.5x faster loading, see docs/benchmarks.md). Make the cache once with
#   python tools/dataset_converters/resize_cache.py CONFIG data/gta_1280x720
# then, in your config:
# source_train_dataset = dict(
#     type='ResizedCacheDataset', cache_dir='data/gta_1280x720',
#     dataset=source_train_dataset)
target_train_dataset = dict(
    type=target_type,
    data_root=target_root,
    data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=target_train_pipeline)
target_val_dataset = dict(
    type=target_type,
    data_root=target_root,
    data_prefix=dict(
        img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
    pipeline=test_pipeline)

# Batch 1 as the originals (1 source image per iteration).
train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=source_train_dataset)
# UDA training: one source and one target image per item, each domain
# shuffled on its own (see SourceTargetSampler).
uda_train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='SourceTargetSampler', shuffle=True),
    dataset=dict(
        type='SourceTargetDataset',
        source=source_train_dataset,
        target=target_train_dataset))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=target_val_dataset)
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
