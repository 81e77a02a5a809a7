# SYNTHIA -> Cityscapes at high resolution, as HRDA and MIC(HRDA) feed it
# (lhoyer/MIC seg/configs/_base_/datasets/
# uda_synthiaHR_to_cityscapesHR_1024x1024.py): as
# uda_gta2cityscapes_1024x1024.py with SYNTHIA resized to fit 2560x1520,
# scored as synthia2cityscapes.py scores (mIoU, mIoU16, mIoU13).
_base_ = ['./uda_gta2cityscapes_1024x1024.py']  # crops, margins, test
hr_source_scale = (2560, 1520)  # (w, h)
source_train_pipeline = [
    *_base_.source_train_pipeline[:2],
    dict(_base_.source_train_pipeline[2], scale=hr_source_scale),  # Resize
    *_base_.source_train_pipeline[3:],
]
train_dataloader = dict(
    dataset=dict(
        source=dict(
            type='SynthiaDataset',
            data_root='data/synthia',
            data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
            pipeline=source_train_pipeline)))
val_evaluator = dict(
    type='SubsetIoUMetric',
    iou_metrics=['mIoU'],
    class_subsets=dict(
        # trainIds without terrain (9), truck (14), train (16)
        mIoU16=[0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18],
        # mIoU16 without wall (3), fence (4), pole (5)
        mIoU13=[0, 1, 2, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18]))
test_evaluator = val_evaluator
