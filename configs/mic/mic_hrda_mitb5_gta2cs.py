# MIC(HRDA), GTA5 -> Cityscapes (lhoyer/MIC seg/configs/mic/
# gtaHR2csHR_mic_hrda.py, experiments.py id 80): HRDA on DAFormer/MiT-B5 at
# 1024x1024 crops (../hrda/hrda_mitb5_gta2cs.py, unchanged but for the seed)
# plus masked image consistency: the colour-augmented target images, masked
# in 64x64 blocks at ratio 0.7, are trained on the DACS teacher's
# pseudo-labels with their threshold and weight, loss weight 1.
_base_ = ['../hrda/hrda_mitb5_gta2cs.py']  # HRDA's whole recipe
model = dict(
    mask_consistency=dict(
        mask_mode='separatetrgaug',
        mask_alpha='same',
        mask_pseudo_threshold='same',
        mask_lambda=1,
        mask_generator=dict(type='block', mask_ratio=0.7,
                            mask_block_size=64)))
# "seed with median performance" (gtaHR2csHR_mic_hrda.py)
randomness = dict(seed=2)
