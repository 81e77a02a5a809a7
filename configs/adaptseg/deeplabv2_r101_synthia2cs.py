# AdaptSegNet multi-level, SYNTHIA -> Cityscapes (mIoU, mIoU16, mIoU13).
_base_ = [
    '../_base_/models/deeplabv2_r101_adaptseg.py',  # R101, rates (6, 12)
    '../_base_/datasets/uda_synthia2cityscapes.py',  # SYNTHIA 1280x760 -> CS
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_adaptseg_150k.py',  # SGD + Adam, poly
    '../_base_/uda/adaptseg.py',  # the method: discriminators, weights
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
train_cfg = dict(max_iters=90000)  # SYNTHIA runs stop at 90k
