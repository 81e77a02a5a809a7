# ADVENT AdvEnt (43.8 mIoU GTA5 -> Cityscapes), multi-level.
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # R101, rates (6, 12, 18, 24)
    '../_base_/datasets/uda_gta2cityscapes.py',  # GTA5 1280x720 -> CS 1024x512
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_advent_120k.py',  # SGD + Adam, poly, 120k
    '../_base_/uda/advent.py',  # the method: entropy-map discriminators
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
