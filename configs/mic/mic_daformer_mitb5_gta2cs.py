# MIC(DAFormer), GTA5 -> Cityscapes (lhoyer/MIC seg/experiments.py, id 81:
# MIC with further UDA methods, the DAFormer row): DAFormer on MiT-B5 at
# 512x512 crops (../daformer/daformer_mitb5_gta2cs.py, unchanged) plus
# masked image consistency. The MIC options are those of
# seg/configs/mic/gtaHR2csHR_mic_hrda.py (colour-augmented target images
# masked, the DACS teacher's pseudo-labels and weight, loss weight 1, mask
# ratio 0.7) with 32x32 blocks instead of 64x64: experiments.py halves the
# block size for the half-resolution 512x512 crops of DAFormer.
_base_ = ['../daformer/daformer_mitb5_gta2cs.py']  # DAFormer's whole recipe
model = dict(
    mask_consistency=dict(
        mask_mode='separatetrgaug',
        mask_alpha='same',
        mask_pseudo_threshold='same',
        mask_lambda=1,
        mask_generator=dict(type='block', mask_ratio=0.7,
                            mask_block_size=32)))
