# The built-in demo domain pair (tools/demo/generate_data.py): a flat-coloured
# "game" source in GTA5 layout and a noisy, textured, blurred "real" target
# in Cityscapes layout, 128x256 images, 7 Cityscapes classes. Target labels
# are used for evaluation only.
demo_root = 'data/demo'
demo_classes = ('road', 'sidewalk', 'building', 'vegetation', 'sky',
                'person', 'car')
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
source_train_dataset = dict(
    type='GTAVDataset',
    data_root=demo_root + '/source',
    ann_file='train.txt',
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    metainfo=dict(classes=demo_classes),
    pipeline=source_pipeline)
source_val_dataset = dict(
    type='GTAVDataset',
    data_root=demo_root + '/source',
    ann_file='val.txt',
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    metainfo=dict(classes=demo_classes),
    pipeline=test_pipeline)
target_train_dataset = dict(
    type='CityscapesDataset',
    data_root=demo_root + '/target',
    data_prefix=dict(img_path='leftImg8bit/train'),
    metainfo=dict(classes=demo_classes),
    pipeline=target_train_pipeline)
target_val_dataset = dict(
    type='CityscapesDataset',
    data_root=demo_root + '/target',
    data_prefix=dict(
        img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
    metainfo=dict(classes=demo_classes),
    pipeline=test_pipeline)

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=source_train_dataset)
# UDA training: one source and one target image per item (see
# SourceTargetSampler), 2 + 2 images per batch.
uda_train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='SourceTargetSampler', shuffle=True),
    dataset=dict(
        type='SourceTargetDataset',
        source=source_train_dataset,
        target=target_train_dataset))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=target_val_dataset)
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
