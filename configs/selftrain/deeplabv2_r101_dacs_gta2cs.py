# DACS on DeepLab-v2 R101, GTA5 -> Cityscapes, with the numbers of DAFormer's
# DACS DeepLab-v2 runs (experiments.py, 'dlv2red' + 'dacs'): single-level
# DeepLab-v2 summing rates (6, 12), batch 2 source + 2 target, 512x512
# crops, AdamW 6e-5, 40k iterations.
_base_ = [
    '../_base_/models/deeplabv2_r101_crop512.py',  # R101, (6, 12), 512 crops
    '../_base_/datasets/uda_gta2cityscapes_512x512.py',  # DAFormer's crops
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_dacs_40k.py',  # EMA teacher, AdamW, 40k
    '../_base_/uda/dacs.py',  # the method: ClassMix, threshold, jitter
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
