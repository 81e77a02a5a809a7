# AdaptSegNet multi-level (42.4 mIoU GTA5 -> Cityscapes): the headline job.
_base_ = [
    '../_base_/models/deeplabv2_r101_adaptseg.py',  # R101, rates (6, 12)
    '../_base_/datasets/gta2cityscapes.py',  # GTA5 1280x720 -> CS 1024x512
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/uda/adaptseg.py',  # discriminators, optimizers, schedule
]
model = dict(
    _delete_=True,
    segmentor=_base_.model,
    data_preprocessor=dict(
        _base_.data_preprocessor, type='UDASegDataPreProcessor'),
    **_base_.uda)
# paired source/target batches instead of the source-only loader
train_dataloader = dict(_delete_=True, **_base_.uda_train_dataloader)
