# AdaptSegNet: output-space adversarial adaptation (multi-level, vanilla GAN).
# The method only; its optimizers, schedule and checkpoint policy are in
# ../schedules/schedule_adaptseg_150k.py. A method config builds the model as
#   model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
# (the UDA model takes its data preprocessor from the segmentor).
uda = dict(
    type='AdversarialUDASegmentor',
    # None: the segmentor's data preprocessor, for paired batches (an explicit
    # None also keeps mmengine's Runner from handing in the top-level one)
    data_preprocessor=None,
    # 5 convs 4x4/2, 64-128-256-512-1, LeakyReLU 0.2, no norm, no sigmoid
    discriminator=dict(
        type='FCDiscriminator', base_channels=64, num_convs=5,
        negative_slope=0.2),
    # adversarial loss weights on target: main 0.001, aux 0.0002
    adv_weights=dict(main=0.001, aux=0.0002),
    gan_loss='vanilla')
