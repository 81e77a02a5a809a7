# `make demo`: DAFormer-style self-training (DACS with a mean teacher,
# ClassMix, colour jitter and blur, rare class sampling) on the demo domain
# pair, warm-started from the source-only demo checkpoint (run_demo.py sets
# `load_from`). DAFormer's optimiser and schedule, shortened. Without the
# feature distance: the demo has no ImageNet weights, and its DeepLab-v2
# (the originals' ceil-mode stem) gives 17x33 features for 128x256 images,
# not the whole fraction of the label size that DAFormer's FD divides by.
_base_ = [
    '../_base_/models/deeplabv2_r18_tiny.py',  # light DeepLab-v2
    '../_base_/datasets/demo_street.py',  # demo source/target, 7 classes
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_dacs_40k.py',  # EMA teacher, AdamW, poly
    '../_base_/uda/dacs.py',  # the method: ClassMix, threshold, jitter
]
num_classes = 7
model = dict(
    _delete_=True,
    segmentor=dict(
        _base_.model,
        # single-level, as DAFormer's DeepLab-v2 (no auxiliary classifier)
        auxiliary_head=None,
        decode_head=dict(_base_.model.decode_head, num_classes=num_classes)),
    # no pseudo-label crop either: the demo images have no ego-vehicle or
    # border rows to hide
    **_base_.uda)
# paired source/target batches, drawn by rare class sampling (the statistics
# are written with the demo data); min_pixels 3000 of a 1914x1052 GTA5 frame
# is 0.15% of it, 50 pixels of a 128x256 demo image
train_dataloader = dict(
    _delete_=True,
    **dict(
        _base_.uda_train_dataloader,
        dataset=dict(
            _base_.uda_train_dataloader.dataset,
            rare_class_sampling=dict(
                class_temp=0.01, min_pixels=50, min_crop_ratio=0.5))))
max_iters = 400
# DAFormer's warm-up is 1500 of 40k iterations: the same share of the demo's
param_scheduler = dict(
    segmentor=[
        dict(type='LinearLR', start_factor=1e-06, end_factor=1.0, begin=0,
             end=16, by_epoch=False),
        dict(type='PolyLR', eta_min=0.0, power=1.0, begin=0,
             end=max_iters + 1, by_epoch=False)
    ])
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=2, save_best=None))
randomness = dict(seed=0)
