# HRDA, SYNTHIA -> Cityscapes (lhoyer/HRDA experiments.py id 40, 'syn2cs':
# synthiaHR -> cityscapesHR at 1024x1024 crops with rcs_min_crop 2.0 and
# every other setting of the GTA5 run): hrda_mitb5_gta2cs.py with SYNTHIA
# resized to fit 2560x1520 as the source, scored over 19, 16 and 13 classes.
_base_ = [
    '../_base_/models/hrda_daformer_mitb5.py',  # HRDA over DAFormer/MiT-B5
    '../_base_/datasets/uda_synthia2cityscapes_1024x1024.py',  # HR crops
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_daformer_40k.py',  # AdamW, warm-up, EMA
    '../_base_/uda/daformer.py',  # DACS + feature distance + row crop
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
# HRDA's pseudo-label margins replace DAFormer's row crop (as for GTA5)
model.update(pseudo_weight_ignore_top=0, pseudo_weight_ignore_bottom=0)
# Rare class sampling and one loader worker as for GTA5 (statistics under
# data/synthia)
train_dataloader = dict(
    num_workers=1,
    dataset=dict(rare_class_sampling=dict(
        class_temp=0.01, min_pixels=3000, min_crop_ratio=2.0)))
# experiments.py runs seeds 0, 1, 2 and ships no SYNTHIA config; the seed of
# the shipped GTA5 config
randomness = dict(seed=1)
