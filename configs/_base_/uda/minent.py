# ADVENT MinEnt: source CE + entropy of the target predictions (upsampled to
# the input size, align_corners=True), weights 0.001 main, 0.0002 aux; only
# the segmentor's optimizer (originals' SGD listing) and its poly schedule
# over 250k; ADVENT stops at 120k. Build the model as adaptseg.py says.
_base_ = ['./adaptseg.py']  # segmentor optimizer, poly, save_best
uda = dict(
    _delete_=True,
    type='MinEntUDASegmentor',
    ent_weights=dict(main=0.001, aux=0.0002),
    loss_entropy=dict(type='EntropyLoss'))
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    segmentor=_base_.optim_wrapper.segmentor)
param_scheduler = dict(
    _delete_=True, segmentor=_base_.param_scheduler.segmentor)
# ADVENT's EARLY_STOP; a snapshot evaluated every TEST.SNAPSHOT_STEP = 2000
# iterations, the best reported (advent/domain_adaptation/config.py)
snapshot_interval = 2000
train_cfg = dict(max_iters=120000, val_interval=snapshot_interval)
default_hooks = dict(checkpoint=dict(interval=snapshot_interval))
