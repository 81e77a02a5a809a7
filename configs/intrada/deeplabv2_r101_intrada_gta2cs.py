# IntraDA stage 2 (intra-domain adaptation), GTA5 -> Cityscapes.
# Step 1: train AdvEnt (configs/advent/deeplabv2_r101_advent_gta2cs.py).
# Step 2: rank Cityscapes train with tools/rank_targets.py into `rank_dir`.
# Step 3: this config: AdvEnt again, from the ImageNet init (not from the
# stage-1 weights), with the easy split + its pseudo-labels as "source" and
# the hard split as "target", both at 1024x512; everything else (losses,
# weights 0.001/0.0002, optimizers, poly schedule, 120k stop, a validation
# every 2000 iterations keeping the best) is AdvEnt's. A ranking without
# --rare-normalize is IntraDA's 46.3 setting (intrada_trained.yml), with it
# the 47.0 one (intrada_trained_withnorm.yml; IntraDA's README command
# `--normalize False` turns it on: the flag is type=bool).
rank_dir = 'work_dirs/intrada_rank'  # --work-dir of tools/rank_targets.py

_base_ = ['../advent/deeplabv2_r101_advent_gta2cs.py']  # AdvEnt, stage 1
cityscapes_root = 'data/cityscapes'
# Pseudo-labels are the argmax at 1024x512 (IntraDA's resolution), so the
# nearest-neighbour label resize below is the identity.
easy_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(_base_.originals_resize, scale=(1024, 512)),
    dict(type='PackSegInputs'),
]
# the hard split: Cityscapes training images without labels, at 1024x512
hard_pipeline = _base_.target_train_pipeline
train_dataloader = dict(
    dataset=dict(
        source=dict(
            _delete_=True,
            type='CityscapesDataset',
            data_root='',
            ann_file=rank_dir + '/easy_split.txt',
            data_prefix=dict(
                img_path=cityscapes_root + '/leftImg8bit/train',
                seg_map_path=rank_dir + '/pseudo_labels'),
            pipeline=easy_pipeline),
        target=dict(
            _delete_=True,
            type='CityscapesDataset',
            data_root='',
            ann_file=rank_dir + '/hard_split.txt',
            data_prefix=dict(img_path=cityscapes_root + '/leftImg8bit/train'),
            pipeline=hard_pipeline)))
