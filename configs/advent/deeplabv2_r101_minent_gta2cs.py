# ADVENT MinEnt, multi-level: ADVENT's minent.yml (train_minent from the
# ImageNet init), the paper's MinEnt row, 42.3 mIoU GTA5 -> Cityscapes. Not
# ADVENT's minent_pretrained.yml: that evaluates gta2cityscapes_minent_ER.pth,
# the paper's MinEnt + ER variant (Table 1), which train_minent does not produce.
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # R101, rates (6, 12, 18, 24)
    '../_base_/datasets/uda_gta2cityscapes.py',  # GTA5 1280x720 -> CS 1024x512
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_minent_120k.py',  # SGD, poly, 120k stop
    '../_base_/uda/minent.py',  # the method: target entropy weights
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
