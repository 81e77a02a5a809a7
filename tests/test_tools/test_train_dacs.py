"""tools/train.py on the DACS DeepLab-v2 config, shrunk to a tiny R18."""
import os.path as osp

import pytest
import torch

from tests.test_tools.test_train_adaptseg import _layout, _train

pytestmark = pytest.mark.slow

CONFIG = 'configs/selftrain/deeplabv2_r101_dacs_gta2cs.py'


def _options(tmp_path, max_iters):
    gta, cs = _layout(tmp_path)
    loader = 'train_dataloader'
    opts = [
        f'{loader}.dataset.source.data_root={gta}',
        f'{loader}.dataset.source.pipeline.2.scale=(72,48)',
        f'{loader}.dataset.source.pipeline.3.crop_size=(32,32)',
        f'{loader}.dataset.target.data_root={cs}',
        f'{loader}.dataset.target.pipeline.1.scale=(64,48)',
        f'{loader}.dataset.target.pipeline.2.crop_size=(32,32)',
        f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
        'model.segmentor.data_preprocessor.size=(32,32)',
        'model.segmentor.backbone.init_cfg=None',
        'model.segmentor.backbone.depth=18',
        'model.segmentor.backbone.base_channels=16',
        'model.segmentor.backbone.stem_channels=16',
        'model.segmentor.decode_head.in_channels=128',
        f'train_cfg.max_iters={max_iters}', 'train_cfg.val_interval=3',
        'default_hooks.checkpoint.interval=3',
        'default_hooks.logger.interval=1', 'randomness.seed=0',
    ]
    for loader in ('val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={cs}',
                 f'{loader}.dataset.pipeline.1.scale=(32,16)',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts


def test_dacs_trains_three_iterations(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    work_dir = osp.join(tmp_path, 'work')
    out = _train(repo_root, work_dir, _options(tmp_path, 3), config=CONFIG)
    for name in ('src.main.loss_ce', 'src.main.acc_seg', 'mix.main.loss_ce',
                 'mix.main.acc_seg', 'mix.pseudo_weight'):
        assert name in out, name
    assert 'src.aux' not in out  # single-level, as DAFormer's DeepLab-v2
    assert 'mIoU' in out  # validation through the student
    ckpt = torch.load(osp.join(work_dir, 'iter_3.pth'), map_location='cpu',
                      weights_only=False)
    assert ckpt['meta']['mean_teacher'] == dict(initialized=True)
    state = ckpt['state_dict']
    teacher = {k[len('teacher.'):]: v for k, v in state.items()
               if k.startswith('teacher.')}
    student = {k[len('segmentor.'):]: v for k, v in state.items()
               if k.startswith('segmentor.')}
    assert teacher.keys() == student.keys()
    # after 3 steps the teacher is an average, not the student
    assert any(not torch.equal(v, student[k]) for k, v in teacher.items()
               if v.is_floating_point())
    assert set(ckpt['optimizer']) == {'segmentor'}
