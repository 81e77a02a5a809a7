# Source-only DeepLab-v2 R101 trained on SYNTHIA, evaluated on Cityscapes val
# with mIoU19, mIoU16 and mIoU13.
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # DeepLab-v2 R101, 19 classes
    '../_base_/datasets/synthia2cityscapes.py',  # SYNTHIA 1280x760 -> CS
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_250k_poly.py',  # SGD 2.5e-4, poly
]
# SYNTHIA runs stop at 90k iterations in the originals.
train_cfg = dict(max_iters=90000)
