# Source-only DeepLab-v2 R101 trained on GTA5, evaluated on Cityscapes val
# (the originals' 36.6 mIoU baseline).
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # DeepLab-v2 R101, 19 classes
    '../_base_/datasets/gta2cityscapes.py',  # GTA5 1280x720 -> CS 1024x512
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_250k_poly.py',  # SGD 2.5e-4, poly, 150k
]
