# HRDA, GTA5 -> Cityscapes (lhoyer/MIC seg/configs/hrda/gtaHR2csHR_hrda.py,
# HRDA's final setting, lhoyer/HRDA experiments.py id 40): DAFormer's
# self-training (DACS, EMA teacher 0.999, thing-class ImageNet feature
# distance, rare class sampling; AdamW 6e-5 with warm-up, 40k iterations of
# 2 + 2 crops) on HRDA's multi-resolution network, with 1024x1024 crops of
# GTA5 at 2560x1440 and Cityscapes at 2048x1024. Reported as HRDA: the final
# student checkpoint, whole images at 2048x1024 by sliding windows.
_base_ = [
    '../_base_/models/hrda_daformer_mitb5.py',  # HRDA over DAFormer/MiT-B5
    '../_base_/datasets/uda_gta2cityscapes_1024x1024.py',  # HR crops
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_daformer_40k.py',  # AdamW, warm-up, EMA
    '../_base_/uda/daformer.py',  # DACS + feature distance + row crop
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
# HRDA's pseudo-label margins (marked by the dataset base before the crop)
# replace DAFormer's row crop of the target crop; the original refuses both
# at once (dacs.py filter_valid_pseudo_region)
model.update(pseudo_weight_ignore_top=0, pseudo_weight_ignore_bottom=0)
# Rare class sampling with min_crop_ratio=2.0 instead of DAFormer's 0.5:
# HRDA's inputs have 4 times the pixels. One loader worker, as HRDA
# (workers_per_gpu=1).
train_dataloader = dict(
    num_workers=1,
    dataset=dict(rare_class_sampling=dict(
        class_temp=0.01, min_pixels=3000, min_crop_ratio=2.0)))
# HRDA's seed (gtaHR2csHR_hrda.py; experiments.py runs seeds 0, 1, 2)
randomness = dict(seed=1)
