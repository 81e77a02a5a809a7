# Ablation of DAFormer's Table 1 (lhoyer/MIC seg/experiments.py id 81,
# 'dlv2red' + uda_daformer): DAFormer's training (DACS with EMA 0.999,
# thing-class feature distance, pseudo-label crop, rare class sampling,
# AdamW 6e-5 with warm-up, 40k iterations, final checkpoint) on
# DAFormer's single-level DeepLab-v2 (mmseg's ResNetV1c-101) instead of the
# DAFormer network. The MiT-only no-decay keys of the schedule match no
# DeepLab-v2 parameter, as in the original (set for 'mit' backbones only).
_base_ = [
    '../_base_/models/deeplabv2red_r101v1c.py',  # ResNetV1c-101, (6, 12)
    '../_base_/datasets/uda_gta2cityscapes_512x512.py',  # DAFormer's crops
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_daformer_40k.py',  # AdamW, warm-up, EMA
    '../_base_/uda/daformer.py',  # DACS + feature distance + crop
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
# Rare class sampling as daformer_mitb5_gta2cs.py
train_dataloader = dict(
    dataset=dict(rare_class_sampling=dict(
        class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
