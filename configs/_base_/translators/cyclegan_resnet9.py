# CycleGAN as BDL trains it: resnet_9blocks generators (ngf 64, instance
# norm, no dropout), 70x70 PatchGAN discriminators (ndf 64, n_layers 3,
# instance norm), init N(0, 0.02), LSGAN, image pools of 50, cycle weight
# 10, identity 0.5 (x cycle weight), Adam 2e-4 betas (0.5, 0.999): one
# optimizer for both generators, one for both discriminators.
translator = dict(
    type='CycleGANTranslator',
    generator=dict(
        type='ResnetGenerator', base_channels=64, num_blocks=9,
        init_std=0.02),
    discriminator=dict(
        type='PatchDiscriminator', base_channels=64, num_layers=3,
        init_std=0.02),
    gan_loss='lsgan',
    cycle_weight=10.0,
    identity_weight=0.5,
    pool_size=50,
    # Images RGB in [-1, 1] (CycleGAN's Normalize((.5,)*3, (.5,)*3)).
    data_preprocessor=dict(
        type='UDASegDataPreProcessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        bgr_to_rgb=True,
        size_divisor=4,
        pad_val=0,
        seg_pad_val=255))
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generators=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))),
    discriminators=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))))
# generators and discriminators are wrapped in DDP separately
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', find_unused_parameters=False)
