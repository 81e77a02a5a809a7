"""tools/train.py with rare class sampling on: 2 iterations + --resume to 4
give the weights of 4 uninterrupted iterations (RCS draws and re-crops
included)."""
import os.path as osp

import pytest
import torch

from tests.test_tools.test_train_adaptseg import _load, _options, _train
from tools.dataset_converters.class_stats import main as class_stats_main

pytestmark = pytest.mark.slow

CONFIG = 'configs/adaptseg/deeplabv2_r101_gta2cs.py'
# The tiny GTA labels are 36x64 with ~120 pixels per class: thresholds
# scaled down so that every class keeps an image and crops are re-drawn.
RCS = dict(class_temp=0.01, min_pixels=60, min_crop_ratio=0.5)


def _config(tmp_path, repo_root):
    """The shipped config with RCS on and a random 32x32 source crop (so
    that the crop rule draws randomness that resuming must reproduce)."""
    path = osp.join(tmp_path, 'rcs_config.py')
    with open(path, 'w') as f:
        f.write(
            f"_base_ = ['{osp.join(repo_root, CONFIG)}']\n"
            'train_dataloader = dict(dataset=dict(\n'
            f'    rare_class_sampling={RCS!r},\n'
            '    source=dict(pipeline=[\n'
            "        dict(type='LoadImageFromFile'),\n"
            "        dict(type='LoadAnnotations'),\n"
            "        dict(type='Resize', scale=(72, 48), keep_ratio=False),\n"
            "        dict(type='RandomCrop', crop_size=(32, 32)),\n"
            "        dict(type='PackSegInputs')])))\n")
    return path


def test_rcs_resume_equals_an_uninterrupted_run(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    opts = _options(tmp_path, 4)  # writes the tiny layout
    assert class_stats_main([osp.join(tmp_path, 'gta'), '--nproc', '1']) == 0
    config = _config(tmp_path, repo_root)
    straight, split = (osp.join(tmp_path, n) for n in ('straight', 'split'))
    out = _train(repo_root, straight, opts, config=config)
    assert out.count('RCS classes: [') == 1, out[-3000:]
    assert 'RCS class probabilities: [' in out
    _train(repo_root, split, _options(tmp_path, 2), config=config)
    out = _train(repo_root, split, opts, '--resume', config=config)
    assert 'resumed epoch: 0, iter: 2' in out

    a, b = (_load(osp.join(d, 'iter_4.pth')) for d in (straight, split))
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert set(a['state_dict']) == set(b['state_dict'])
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][key], value, msg=key)
