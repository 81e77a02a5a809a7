# ADVENT AdvEnt (43.8 mIoU GTA5 -> Cityscapes), multi-level.
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # R101, rates (6, 12, 18, 24)
    '../_base_/datasets/gta2cityscapes.py',  # GTA5 1280x720 -> CS 1024x512
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/uda/advent.py',  # method, optimizers, schedule, 120k stop
]
model = dict(
    _delete_=True,
    segmentor=_base_.model,
    data_preprocessor=dict(
        _base_.data_preprocessor, type='UDASegDataPreProcessor'),
    **_base_.uda)
# paired source/target batches instead of the source-only loader
train_dataloader = dict(_delete_=True, **_base_.uda_train_dataloader)
