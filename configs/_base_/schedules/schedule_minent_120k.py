# ADVENT MinEnt's optimisation: ADVENT's schedule with the segmentor's
# optimizer (the originals' SGD listing) and poly decay only: MinEnt has no
# discriminator.
_base_ = ['./schedule_advent_120k.py']  # 120k stop, snapshots every 2000
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    segmentor=_base_.optim_wrapper.segmentor)
param_scheduler = dict(
    _delete_=True, segmentor=_base_.param_scheduler.segmentor)
