# BDL's image translator: CycleGAN GTA5 -> Cityscapes with the perceptual
# loss of the frozen segmentor of the previous round (BDL readme:
# --niter 10 --niter_decay 10 --loadSize 1024 --fineSize 452
# --resize_or_crop scale_width_and_crop --batchSize 4 --lambda_semantic 1
# --lambda_identity 0.5). Train with tools/train.py, then translate the
# GTA5 training images with tools/translate_source.py.
_base_ = [
    '../_base_/default_runtime.py',  # custom_imports, logging
    '../_base_/translators/cyclegan_resnet9.py',  # networks, Adam 2e-4
]
model = dict(
    _base_.translator,
    # BDL's semantic loss: rec terms lambda_cycle * lambda_semantic = 10,
    # translation terms 0.1, from the segmentor of round 0.
    perceptual_rec_weight=10.0,
    perceptual_translation_weight=0.1,
    # BDL's perceptual network (cyclegan/deeplab.py) is the segmentation
    # network with a classifier that returns inside its loop: it sums only
    # the convs of rates 6 and 12 of the four the segmentor was trained with
    # (model/deeplab.py sums all four). Its weights are the segmentor's with
    # the first two classifier convs: tools/model_converters/
    # original_deeplabv2.py SEGMENTOR.pth OUT.pth --num-rates 2 (BDL's own
    # files or checkpoints of ours; tools/bdl_rounds.py does it per round).
    perceptual_segmentor=dict(
        config='configs/bdl/deeplabv2_r101_ssl_gta2cs.py',
        checkpoint='work_dirs/bdl/round0_perceptual_segmentor.pth',
        dilations=(6, 12)))

# CycleGAN's scale_width_and_crop: scale the width to 1024 (bicubic), the
# height truncated (1914x1052 GTA5 -> 1024x562, Cityscapes -> 1024x512),
# random 452x452 crop, random horizontal flip.
load_size = 1024
fine_size = 452
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ScaleWidth', width=load_size, interpolation='bicubic',
         backend='pillow'),
    dict(type='RandomCrop', crop_size=(fine_size, fine_size)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackSegInputs'),
]
source_train_dataset = dict(
    type='GTAVDataset',
    data_root='data/gta',
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    pipeline=train_pipeline)
target_train_dataset = dict(
    type='CityscapesDataset',
    data_root='data/cityscapes',
    data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=train_pipeline)
# Batch 4 as BDL's readme (CycleGAN's own default is 1); every GTA5 image
# is drawn once per epoch, Cityscapes images independently.
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='SourceTargetSampler', shuffle=True),
    dataset=dict(
        type='SourceTargetDataset',
        source=source_train_dataset,
        target=target_train_dataset))

# --niter 10 --niter_decay 10: 20 epochs of CycleGAN's unaligned dataset
# (length max(|A|, |B|) = 24966 GTA5 images) at batch 4: ceil(24966 / 4) =
# 6242 iterations per epoch. The lr follows CycleGAN's get_scheduler lambda
# rule stepped once per epoch: 1 for epochs 1-9, then (20 - e) / 11 for
# epoch e = 10..20 (the last epoch runs at lr 0).
gta_images = 24966
iters_per_epoch = (gta_images + 4 - 1) // 4
niter, niter_decay = 10, 10
max_iters = (niter + niter_decay) * iters_per_epoch
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters + 1)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
cyclegan_lr = dict(
    type='EpochLinearDecayLR', niter=niter, niter_decay=niter_decay,
    iters_per_epoch=iters_per_epoch, by_epoch=False)
param_scheduler = dict(generators=[cyclegan_lr], discriminators=[cyclegan_lr])
# one checkpoint per epoch (BDL: --save_epoch_freq 1), the last two kept,
# and the final one always saved
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # written to a temporary file and renamed (never left cut short)
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=iters_per_epoch,
        max_keep_ckpts=2, save_last=True,
        backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'))
