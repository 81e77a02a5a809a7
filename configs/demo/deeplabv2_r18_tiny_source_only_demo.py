# `make demo`: source-only training on the demo "game" domain, evaluated on
# the demo "real" domain. A few minutes on 2 CPU cores.
_base_ = [
    '../_base_/models/deeplabv2_r18_tiny.py',  # light DeepLab-v2
    '../_base_/datasets/demo_street.py',  # demo source/target, 7 classes
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_250k_poly.py',  # SGD + poly, shortened
]
num_classes = 7
model = dict(
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))
max_iters = 600
optim_wrapper = dict(
    optimizer=dict(lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=2))
randomness = dict(seed=0)
