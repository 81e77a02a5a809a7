# SYNTHIA-RAND-CITYSCAPES (source) -> Cityscapes (target): as GTA5 ->
# Cityscapes but SYNTHIA is resized to 1280x760, and mIoU is also reported
# over the 16 classes SYNTHIA has (no terrain, truck, train) and the 13 of
# the usual protocol (also no wall, fence, pole).
_base_ = ['./gta2cityscapes.py']  # Cityscapes target, pipelines, loaders
source_type = 'SynthiaDataset'
source_root = 'data/synthia'
source_scale = (1280, 760)  # (w, h)
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(_base_.originals_resize, scale=source_scale),
    dict(type='PackSegInputs'),
]
source_train_dataset = dict(
    type=source_type,
    data_root=source_root,
    data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
    pipeline=source_train_pipeline)
train_dataloader = dict(dataset=source_train_dataset)
uda_train_dataloader = dict(dataset=dict(source=source_train_dataset))
val_evaluator = dict(
    type='SubsetIoUMetric',
    iou_metrics=['mIoU'],
    class_subsets=dict(
        # trainIds without terrain (9), truck (14), train (16)
        mIoU16=[0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18],
        # mIoU16 without wall (3), fence (4), pole (5)
        mIoU13=[0, 1, 2, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18]))
test_evaluator = val_evaluator
