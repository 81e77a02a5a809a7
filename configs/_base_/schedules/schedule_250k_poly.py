# The originals' segmentor optimisation: SGD lr 2.5e-4, momentum 0.9,
# weight decay 5e-4, classifiers at 10x lr, poly decay (power 0.9) over 250k
# iterations; training stops early (AdaptSegNet 150k, ADVENT 120k).
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    clip_grad=None,
    paramwise_cfg=dict(
        custom_keys={
            'decode_head': dict(lr_mult=10.0),
            'auxiliary_head': dict(lr_mult=10.0),
        }))
# mmengine's PolyLR decays over end - begin - 1 steps: end=250001 gives
# lr_i = lr * (1 - i / 250000) ** 0.9, the originals' formula.
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=250001,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=150000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # 'atomic_local' (mmseg_uda.utils.atomic_file_backend): a checkpoint is
    # written to a temporary file and renamed, never left cut short
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=5000,
        max_keep_ckpts=3, backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # multi-GPU: validate with rank 0's BN running statistics, the ones the
    # checkpoints hold (the ranks' own differ: broadcast_buffers=False)
    sync_buffers=dict(type='BroadcastBuffersHook'),
    visualization=dict(type='SegVisualizationHook'))
