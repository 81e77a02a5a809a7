# BDL's segmentation side (CVPR 2019), GTA5 -> Cityscapes: single-level
# output-space adversarial learning (weight 0.001) plus self-supervised
# learning (SSL): cross-entropy (weight 1) on class-wise thresholded target
# pseudo-labels. BDL's recipe, per SSL step: make pseudo-labels with the
# previous model (tools/gen_pseudo_labels.py, rule 'bdl'), then train this
# config from the DeepLab init on them for 120k iterations. In the full
# bidirectional recipe the source images are the translated ones
# (configs/bdl/cyclegan_perceptual_gta2cs.py, tools/translate_source.py,
# tools/bdl_rounds.py).
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # R101, rates (6, 12, 18, 24)
    '../_base_/datasets/uda_gta2cityscapes.py',  # GTA5 -> CS, paired
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_bdl_ssl_120k.py',  # SGD + Adam, 120k
    '../_base_/uda/adaptseg.py',  # the adversarial method: discriminator
]

# ---- self-training: every pseudo-label setting in one place -------------
# CE on target pseudo-labels, weight 1 (BDL's loss_seg_trg)
ssl_weight = 1.0
# BDL's rule: per class, the median confidence of the pixels predicted as
# that class over the whole target set, capped at 0.9; pixels below their
# class threshold are ignored (255).
pseudo_label_rule = dict(rule='bdl', quantile=0.5, cap=0.9)
# Labels of the previous model (the --work-dir of tools/gen_pseudo_labels.py);
# None: no SSL term until the first round below.
initial_pseudo_labels = 'work_dirs/bdl/pseudo_labels_round0'
# Iterations at which the model being trained regenerates the labels
# (online rounds). BDL regenerates between runs instead: none.
ssl_rounds_at = []
# Rounds write <root>/<run>/round_<k>; the target pipeline reads
# <root>/current, which points to the labels in use.
pseudo_label_root = 'work_dirs/bdl/ssl_pseudo_labels'
# ---------------------------------------------------------------------------

model = dict(
    _delete_=True,
    # BDL is single-level: no auxiliary classifier
    segmentor=dict(_base_.model, auxiliary_head=None),
    **dict(
        _base_.uda,
        adv_weights=dict(main=0.001),
        ssl_weights=dict(main=ssl_weight)))

# target images carry their pseudo-labels (resized with the image: nearest,
# an identity at 1024x512 where they were made)
target_ssl_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='LoadPseudoLabels',
        label_dir=pseudo_label_root + '/current',
        optional=initial_pseudo_labels is None),
    dict(_base_.originals_resize, scale=_base_.target_scale),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    dataset=dict(target=dict(pipeline=target_ssl_pipeline)))
custom_hooks = [
    dict(
        type='PseudoLabelRoundsHook',
        label_root=pseudo_label_root,
        rounds_at=ssl_rounds_at,
        rule=pseudo_label_rule,
        initial_labels=initial_pseudo_labels),
]
