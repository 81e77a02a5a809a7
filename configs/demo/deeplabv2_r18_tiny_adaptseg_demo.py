# `make demo`: AdaptSegNet (multi-level, vanilla GAN) on the demo domain
# pair, warm-started from the source-only demo checkpoint (run_demo.py sets
# `load_from`). The method's own weights and optimisers, shorter schedule.
_base_ = [
    '../_base_/models/deeplabv2_r18_tiny.py',  # light DeepLab-v2
    '../_base_/datasets/demo_street.py',  # demo source/target, 7 classes
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_adaptseg_150k.py',  # SGD + Adam, shortened
    '../_base_/uda/adaptseg.py',  # the method: discriminators, weights
]
num_classes = 7
model = dict(
    _delete_=True,
    segmentor=dict(
        _base_.model,
        decode_head=dict(_base_.model.decode_head, num_classes=num_classes),
        auxiliary_head=dict(
            _base_.model.auxiliary_head, num_classes=num_classes)),
    **dict(
        _base_.uda,
        # a light discriminator for the CPU demo (the original has 64)
        discriminator=dict(_base_.uda.discriminator, base_channels=16)))
# paired source/target batches instead of the source-only loader
train_dataloader = dict(_delete_=True, **_base_.uda_train_dataloader)
max_iters = 400
# the nominal SGD (mmengine's constructor), not the originals' listing
optim_wrapper = dict(
    segmentor=dict(
        optimizer=dict(lr=0.005),
        constructor='DefaultOptimWrapperConstructor'))
param_scheduler = dict(
    segmentor=[
        dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
             by_epoch=False)
    ],
    discriminators=[
        dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
             by_epoch=False)
    ])
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=2, save_best=None))
randomness = dict(seed=0)
