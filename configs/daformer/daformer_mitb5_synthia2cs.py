# DAFormer, SYNTHIA -> Cityscapes: daformer_mitb5_gta2cs.py with SYNTHIA
# (resized to fit 1280x760) as the source, scored over 19, 16 and 13
# classes. DAFormer keeps every setting for SYNTHIA (lhoyer/MIC
# seg/experiments.py runs SYNTHIA with the same 'dacs_a999_fdthings',
# rcs_T=0.01 and the pseudo-label crop, Cityscapes being the target): the
# same thing classes for the feature distance (truck and train never occur
# in SYNTHIA labels) and the same rare class sampling.
_base_ = [
    '../_base_/models/daformer_sepaspp_mitb5.py',  # MiT-B5, DAFormer head
    '../_base_/datasets/uda_synthia2cityscapes_512x512.py',  # SYNTHIA crops
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_daformer_40k.py',  # AdamW, warm-up, EMA
    '../_base_/uda/daformer.py',  # DACS + feature distance + crop
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
# Rare class sampling as for GTA5 (statistics under data/synthia)
train_dataloader = dict(
    dataset=dict(rare_class_sampling=dict(
        class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
