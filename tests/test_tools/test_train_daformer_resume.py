"""tools/train.py on a DAFormer-style run (DACS with rare class sampling,
the ImageNet feature distance and the pseudo-label crop), shrunk to a tiny
R18: 2 iterations + ``--resume`` to 4 give the weights of 4 uninterrupted
iterations. The RCS sampler and re-crops, the model's random draws (ClassMix
classes, jitter, blur: ``RandomStateHook``), the mean teacher and the
frozen copy (rebuilt, not saved) all have to continue exactly."""
import os.path as osp

import pytest
import torch

from tests.test_tools.test_train_adaptseg import _load, _train
from tests.test_tools.test_train_dacs import _options
from tools.dataset_converters.class_stats import main as class_stats_main

pytestmark = pytest.mark.slow

CONFIG = 'configs/selftrain/deeplabv2_r101_dacs_gta2cs.py'
# tiny labels: thresholds scaled down so every class keeps an image
RCS = dict(class_temp=0.01, min_pixels=60, min_crop_ratio=0.5)
UDA = dict(
    imnet_feature_dist=dict(
        type='FeatureDistanceLoss', loss_weight=0.005,
        thing_classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18],
        scale_min_ratio=0.75),
    pseudo_weight_ignore_top=2,
    pseudo_weight_ignore_bottom=8)


def _config(tmp_path, repo_root):
    path = osp.join(tmp_path, 'daformer_tiny.py')
    with open(path, 'w') as f:
        f.write(f"_base_ = ['{osp.join(repo_root, CONFIG)}']\n"
                f'train_dataloader = dict(dataset=dict('
                f'rare_class_sampling={RCS!r}))\n'
                f'model = dict(**{UDA!r})\n')
    return path


def test_daformer_resume_equals_an_uninterrupted_run(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    opts = _options(tmp_path, 4)  # writes the tiny layout
    assert class_stats_main([osp.join(tmp_path, 'gta'), '--nproc', '1']) == 0
    config = _config(tmp_path, repo_root)
    straight, split = (osp.join(tmp_path, n) for n in ('straight', 'split'))
    out = _train(repo_root, straight, opts, config=config)
    for name in ('src.main.loss_ce', 'src.loss_imnet_feat_dist',
                 'mix.main.loss_ce', 'mix.pseudo_weight', 'RCS classes: ['):
        assert name in out, name
    # the validation after iteration 3 must not shift the model's draws
    assert 'mIoU' in out
    _train(repo_root, split, _options(tmp_path, 2), config=config)
    out = _train(repo_root, split, opts, '--resume', config=config)
    assert 'resumed epoch: 0, iter: 2' in out

    a, b = (_load(osp.join(d, 'iter_4.pth')) for d in (straight, split))
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert len(a['meta']['random_state']) == 1  # one rank
    assert set(a['state_dict']) == set(b['state_dict'])
    assert not any(k.startswith('imnet_model.') for k in a['state_dict'])
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][key], value, msg=key)
