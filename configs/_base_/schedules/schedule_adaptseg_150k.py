# AdaptSegNet's optimisation: the segmentor's SGD (the originals' effective
# optimiser) and the discriminators' Adam, each with the originals' poly
# decay over 250k iterations; the run stops at 150k and keeps the best
# validated snapshot.
_base_ = ['./schedule_250k_poly.py']  # segmentor SGD + poly, loops, hooks
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    # SGD lr 2.5e-4, momentum 0.9, wd 5e-4, classifiers at 10x lr, built as
    # the originals' effective optimiser (backbone parameters listed 3-4
    # times, PyTorch 0.4 SGD semantics); the nominal SGD with
    # constructor='DefaultOptimWrapperConstructor'
    segmentor=dict(
        _base_.optim_wrapper,
        constructor='OriginalsListingOptimWrapperConstructor'),
    discriminators=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
# poly decay (power 0.9) over 250k iterations for both optimizers
param_scheduler = dict(
    _delete_=True,
    segmentor=_base_.param_scheduler,
    discriminators=_base_.param_scheduler)
# segmentor and discriminators are wrapped in DDP separately
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', find_unused_parameters=False)
# The originals report the best validation snapshot. AdaptSegNet saves one
# every 5000 iterations (train_gta2cityscapes_multi.py: SAVE_PRED_EVERY):
# validate and checkpoint at that interval.
snapshot_interval = 5000
train_cfg = dict(val_interval=snapshot_interval)
default_hooks = dict(
    checkpoint=dict(
        interval=snapshot_interval, save_best='mIoU', rule='greater'))
