# ADVENT MinEnt, multi-level: ADVENT's minent.yml (train_minent from the
# ImageNet init), the paper's MinEnt row, 42.3 mIoU GTA5 -> Cityscapes. Not
# ADVENT's minent_pretrained.yml: that evaluates gta2cityscapes_minent_ER.pth,
# the paper's MinEnt + ER variant (Table 1), which train_minent does not produce.
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # R101, rates (6, 12, 18, 24)
    '../_base_/datasets/gta2cityscapes.py',  # GTA5 1280x720 -> CS 1024x512
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/uda/minent.py',  # method, optimizers, schedule, 120k stop
]
model = dict(
    _delete_=True,
    segmentor=_base_.model,
    data_preprocessor=dict(
        _base_.data_preprocessor, type='UDASegDataPreProcessor'),
    **_base_.uda)
# paired source/target batches instead of the source-only loader
train_dataloader = dict(_delete_=True, **_base_.uda_train_dataloader)
