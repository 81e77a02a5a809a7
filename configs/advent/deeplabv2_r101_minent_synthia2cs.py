# ADVENT MinEnt, SYNTHIA -> Cityscapes (mIoU, mIoU16, mIoU13): the GTA5
# recipe on SYNTHIA at 1280x760, stopped at 90k like the other SYNTHIA runs.
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # R101, rates (6, 12, 18, 24)
    '../_base_/datasets/synthia2cityscapes.py',  # SYNTHIA 1280x760 -> CS
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/uda/minent.py',  # method, optimizers, schedule
]
model = dict(
    _delete_=True,
    segmentor=_base_.model,
    data_preprocessor=dict(
        _base_.data_preprocessor, type='UDASegDataPreProcessor'),
    **_base_.uda)
# paired source/target batches instead of the source-only loader
train_dataloader = dict(_delete_=True, **_base_.uda_train_dataloader)
train_cfg = dict(max_iters=90000)  # SYNTHIA runs stop at 90k
