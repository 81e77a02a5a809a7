# DACS's optimisation with DAFormer's defaults (DAFormer:
# configs/_base_/schedules/{adamw,poly10warm}.py, experiments.py): AdamW for
# the student, linear warm-up then poly decay over 40k iterations, and the
# mean teacher's EMA hook.
_base_ = ['./schedule_250k_poly.py']  # loops and hooks (schedule replaced)
# The teacher is an EMA of the student. DAFormer: alpha=0.999 (its base DACS
# config has 0.99; every DAFormer result and its DeepLab-v2 DACS rerun use
# 0.999), ramp min(1 - 1 / (iter + 1), alpha).
# RandomStateHook: torch's random state in the checkpoints, so that a resumed
# run draws the same ClassMix classes, jitter and blur as an uninterrupted one.
custom_hooks = [
    dict(type='MeanTeacherHook', momentum=0.999, interval=1, warm_up=True),
    dict(type='RandomStateHook')
]
# One optimizer, for the student only (the teacher is not trained).
# DAFormer: AdamW lr 6e-5, betas (0.9, 0.999), weight decay 0.01, heads at
# 10x lr ('head' matches decode_head and auxiliary_head).
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    segmentor=dict(
        type='OptimWrapper',
        optimizer=dict(
            type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01),
        paramwise_cfg=dict(custom_keys=dict(head=dict(lr_mult=10.0)))))
# DAFormer poly10warm over 40k iterations: linear warm-up over 1500
# iterations from a ratio of 1e-6, multiplying a poly (power 1.0) decay to 0
# over the whole run: lr_i = lr * (1 - i / 40000) * w_i. mmengine's
# schedulers decay over end - begin - 1 steps, hence 1501 and 40001.
param_scheduler = dict(
    _delete_=True,
    segmentor=[
        dict(type='LinearLR', start_factor=1e-06, end_factor=1.0, begin=0,
             end=1501, by_epoch=False),
        dict(type='PolyLR', eta_min=0.0, power=1.0, begin=0, end=40001,
             by_epoch=False)
    ])
# DAFormer: 40k iterations, evaluation every 4k.
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
# The student is wrapped in DDP; the frozen teacher is not (no gradients).
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', find_unused_parameters=False)
default_hooks = dict(
    checkpoint=dict(interval=4000, save_best='mIoU', rule='greater'))
