# DACS on SegFormer MiT-B5 (mmseg's MixVisionTransformer + SegformerHead),
# GTA5 -> Cityscapes: the same method and data as
# deeplabv2_r101_dacs_gta2cs.py with the network swapped by config, as in
# DAFormer's Table 1 ('segformer' + 'mitb5' + 'dacs'), with its schedule
# for MiT encoders and its final-checkpoint protocol.
_base_ = [
    '../_base_/models/segformer_mitb5.py',  # MiT-B5, SegFormer head
    '../_base_/datasets/uda_gta2cityscapes_512x512.py',  # DAFormer's crops
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_daformer_40k.py',  # + MiT decay, final ckpt
    '../_base_/uda/dacs.py',  # the method: ClassMix, threshold, jitter
]
model = dict(_delete_=True, segmentor=_base_.model, **_base_.uda)
