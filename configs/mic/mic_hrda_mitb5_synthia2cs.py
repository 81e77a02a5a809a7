# MIC(HRDA), SYNTHIA -> Cityscapes (lhoyer/MIC seg/experiments.py id 80,
# ('synthiaHR', 'cityscapesHR', 'separatetrgaug'): the GTA5 run's HRDA and
# MIC settings, Cityscapes target with the pseudo-label margins):
# ../hrda/hrda_mitb5_synthia2cs.py plus masked image consistency as in
# mic_hrda_mitb5_gta2cs.py.
_base_ = ['../hrda/hrda_mitb5_synthia2cs.py']  # HRDA's SYNTHIA recipe
model = dict(
    mask_consistency=dict(
        mask_mode='separatetrgaug',
        mask_alpha='same',
        mask_pseudo_threshold='same',
        mask_lambda=1,
        mask_generator=dict(type='block', mask_ratio=0.7,
                            mask_block_size=64)))
# experiments.py runs seeds 0, 1, 2 and ships no SYNTHIA config; the seed of
# the shipped GTA5 config
randomness = dict(seed=2)
