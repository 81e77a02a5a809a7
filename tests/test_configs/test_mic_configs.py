"""The MIC config holds MIC's recipe: DAFormer's unchanged plus masked
image consistency with the numbers of lhoyer/MIC (``seg/``), each written
as the original states it, with its file."""

from mmseg_uda.models.uda.masked_consistency import build_masked_consistency
from mmseg_uda.utils.config_check import check_uda_config
from tests.reference.models import load_config

MIC_DAFORMER = 'configs/mic/mic_daformer_mitb5_gta2cs.py'
DAFORMER = 'configs/daformer/daformer_mitb5_gta2cs.py'

# seg/configs/mic/gtaHR2csHR_mic_hrda.py (uda = dict(mask_mode=...)) and
# seg/experiments.py id 81 (mask_mode, mask_ratio = 'separatetrgaug', 0.7;
# mask_alpha='same', mask_pseudo_threshold='same', mask_lambda=1 by
# default; mask_block_size = 32 for the 512x512 crops, "half the patch
# size when training with half resolution")
MIC = dict(mask_mode='separatetrgaug', mask_alpha='same',
           mask_pseudo_threshold='same', mask_lambda=1)
MASK_RATIO, DAFORMER_BLOCK = 0.7, 32


def test_mic_numbers():
    option = load_config(MIC_DAFORMER).model.mask_consistency
    generator = option.pop('mask_generator')
    assert option == MIC
    assert generator == dict(type='block', mask_ratio=MASK_RATIO,
                             mask_block_size=DAFORMER_BLOCK)
    mic = build_masked_consistency(
        load_config(MIC_DAFORMER).model.mask_consistency)
    assert (mic.mask_gen.mask_ratio, mic.mask_gen.mask_block_size) == (
        MASK_RATIO, DAFORMER_BLOCK)
    # 16x16 blocks on a 512x512 crop, as 32x32 on HRDA's 1024x1024
    assert mic.mask_gen.grid_shape(512, 512) == (16, 16)


def test_everything_else_is_daformers():
    mic, daformer = load_config(MIC_DAFORMER), load_config(DAFORMER)
    mic.model.pop('mask_consistency')
    assert mic.to_dict() == daformer.to_dict()


def test_config_check_accepts_it():
    check_uda_config(load_config(MIC_DAFORMER))


# seg/configs/mic/gtaHR2csHR_mic_hrda.py (mask_generator=dict(type='block',
# mask_ratio=0.7, mask_block_size=64)) and seg/experiments.py id 80
# (mask_block_size, mask_ratio = 64, 0.7 for gtaHR and synthiaHR)
HRDA_BLOCK = 64
MIC_HRDA = ['configs/mic/mic_hrda_mitb5_gta2cs.py',
            'configs/mic/mic_hrda_mitb5_synthia2cs.py']


def test_mic_hrda_numbers():
    for path in MIC_HRDA:
        option = load_config(path).model.mask_consistency
        generator = option.pop('mask_generator')
        assert option == MIC, path
        assert generator == dict(type='block', mask_ratio=MASK_RATIO,
                                 mask_block_size=HRDA_BLOCK), path
        mic = build_masked_consistency(
            load_config(path).model.mask_consistency)
        # 16x16 blocks on HRDA's 1024x1024 crops
        assert mic.mask_gen.grid_shape(1024, 1024) == (16, 16)
        check_uda_config(load_config(path))
