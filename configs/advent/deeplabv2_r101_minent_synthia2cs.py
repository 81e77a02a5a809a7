# ADVENT MinEnt, SYNTHIA -> Cityscapes (mIoU, mIoU16, mIoU13): the GTA5
# recipe on SYNTHIA at 1280x760, stopped at 90k like the other SYNTHIA runs.
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # R101, rates (6, 12, 18, 24)
    '../_base_/datasets/uda_synthia2cityscapes.py',  # SYNTHIA 1280x760 -> CS
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_minent_120k.py',  # SGD, poly
    '../_base_/uda/minent.py',  # the method: target entropy weights
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
train_cfg = dict(max_iters=90000)  # SYNTHIA runs stop at 90k
