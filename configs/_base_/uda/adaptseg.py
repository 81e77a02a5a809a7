# AdaptSegNet: output-space adversarial adaptation (multi-level, vanilla GAN).
# A method config builds the model as
#   model = dict(_delete_=True, segmentor=_base_.model, data_preprocessor=
#                dict(_base_.data_preprocessor, type='UDASegDataPreProcessor'),
#                **_base_.uda)
_base_ = ['../schedules/schedule_250k_poly.py']  # hooks, loops, 150k stop
uda = dict(
    type='AdversarialUDASegmentor',
    # 5 convs 4x4/2, 64-128-256-512-1, LeakyReLU 0.2, no norm, no sigmoid
    discriminator=dict(
        type='FCDiscriminator', base_channels=64, num_convs=5,
        negative_slope=0.2),
    # adversarial loss weights on target: main 0.001, aux 0.0002
    adv_weights=dict(main=0.001, aux=0.0002),
    gan_loss='vanilla')
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    segmentor=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9,
                       weight_decay=5e-4),
        paramwise_cfg=dict(
            custom_keys={
                'decode_head': dict(lr_mult=10.0),
                'auxiliary_head': dict(lr_mult=10.0),
            }),
        # The originals' effective optimiser (backbone parameters listed
        # 3-4 times, PyTorch 0.4 SGD semantics). False: the nominal SGD.
        originals_listing=True),
    discriminators=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
# poly decay (power 0.9) over 250k iterations for both optimizers
# (end=250001: mmengine's PolyLR decays over end - begin - 1 steps)
param_scheduler = dict(
    _delete_=True,
    segmentor=[
        dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=250001,
             by_epoch=False)
    ],
    discriminators=[
        dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=250001,
             by_epoch=False)
    ])
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
