"""tools/train.py on the DACS DeepLab-v2 config with MIC's masked
consistency switched on from the command line, shrunk to a tiny R18."""
import os.path as osp

import pytest

from tests.test_tools.test_train_adaptseg import _train
from tests.test_tools.test_train_dacs import CONFIG, _options

pytestmark = pytest.mark.slow


def test_dacs_with_mic_trains_two_iterations(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    mic = 'model.mask_consistency'
    options = _options(tmp_path, 2) + [
        f'{mic}.mask_mode=separatetrgaug', f'{mic}.mask_alpha=same',
        f'{mic}.mask_pseudo_threshold=same', f'{mic}.mask_lambda=1',
        # 8x8 blocks on the 32x32 test crops (MIC: 64x64 on 1024x1024)
        f'{mic}.mask_generator.type=block',
        f'{mic}.mask_generator.mask_ratio=0.7',
        f'{mic}.mask_generator.mask_block_size=8']
    out = _train(repo_root, osp.join(tmp_path, 'work'), options,
                 config=CONFIG)
    for name in ('src.main.loss_ce', 'mix.main.loss_ce', 'mix.pseudo_weight',
                 'masked.main.loss_ce', 'masked.main.acc_seg'):
        assert name in out, name


def test_a_misspelt_mic_key_stops_before_training(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    options = _options(tmp_path, 2) + [
        'model.mask_consistency.mask_lamda=1']
    with pytest.raises(AssertionError, match='option of DACSUDASegmentor'
                       r".*'mask_lambda' for 'mask_lamda'"):
        _train(repo_root, osp.join(tmp_path, 'work'), options,
               config=CONFIG)
