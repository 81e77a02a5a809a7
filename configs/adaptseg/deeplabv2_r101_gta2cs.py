# AdaptSegNet multi-level (42.4 mIoU GTA5 -> Cityscapes): the headline job.
_base_ = [
    '../_base_/models/deeplabv2_r101_adaptseg.py',  # R101, rates (6, 12)
    '../_base_/datasets/uda_gta2cityscapes.py',  # GTA5 1280x720 -> CS 1024x512
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_adaptseg_150k.py',  # SGD + Adam, poly, 150k
    '../_base_/uda/adaptseg.py',  # the method: discriminators, weights
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
