# DAFormer, GTA5 -> Cityscapes (lhoyer/MIC seg/configs/daformer/
# gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py): the
# DAFormer network on MiT-B5, DACS self-training with an EMA teacher at
# 0.999, thing-class ImageNet feature distance, pseudo-label crop and rare
# class sampling; AdamW 6e-5 with warm-up, 40k iterations of 2 + 2 512x512
# crops. Reported as DAFormer: the final student checkpoint, whole images at
# 1024x512 scored at the full label size.
_base_ = [
    '../_base_/models/daformer_sepaspp_mitb5.py',  # MiT-B5, DAFormer head
    '../_base_/datasets/uda_gta2cityscapes_512x512.py',  # DAFormer's crops
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_daformer_40k.py',  # AdamW, warm-up, EMA
    '../_base_/uda/daformer.py',  # DACS + feature distance + crop
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
# Rare class sampling (experiments.py setup_rcs: min_pixels=3000,
# class_temp=0.01, min_crop_ratio=0.5); the class statistics are read from
# the source data_root (data/gta)
train_dataloader = dict(
    dataset=dict(rare_class_sampling=dict(
        class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
