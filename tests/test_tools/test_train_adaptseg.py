"""tools/train.py on the AdaptSegNet config: resume equals an uninterrupted
run, and two-process DDP (gloo) keeps ranks identical."""
import os.path as osp
import sys

import pytest
import torch

from tests.reference.tiny_layouts import make_cityscapes, make_gta
from tests.tool_runs import run, tool_env, torchrun

pytestmark = pytest.mark.slow

CONFIG = 'configs/adaptseg/deeplabv2_r101_gta2cs.py'


def _layout(tmp_path):
    make_gta(osp.join(tmp_path, 'gta'), num=4)
    cs = osp.join(tmp_path, 'cityscapes')
    make_cityscapes(cs, split='train', num=3, seed=2)
    make_cityscapes(cs, split='val', num=2)
    return osp.join(tmp_path, 'gta'), cs


def _options(tmp_path, max_iters, extra=()):
    gta, cs = _layout(tmp_path) if not osp.isdir(
        osp.join(tmp_path, 'gta')) else (osp.join(tmp_path, 'gta'),
                                         osp.join(tmp_path, 'cityscapes'))
    loader = 'train_dataloader'
    opts = [
        f'{loader}.dataset.source.data_root={gta}',
        f'{loader}.dataset.source.pipeline.2.scale=(72,48)',
        f'{loader}.dataset.target.data_root={cs}',
        f'{loader}.dataset.target.pipeline.1.scale=(64,48)',
        f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
        'model.segmentor.backbone.init_cfg=None',
        # a light backbone keeps the test fast; the R101 layout is tested
        # elsewhere
        'model.segmentor.backbone.depth=18',
        'model.segmentor.backbone.base_channels=16',
        'model.segmentor.backbone.stem_channels=16',
        'model.segmentor.decode_head.in_channels=128',
        'model.segmentor.auxiliary_head.in_channels=64',
        f'train_cfg.max_iters={max_iters}', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1', 'randomness.seed=0',
        'randomness.deterministic=True',
    ]
    for loader in ('val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={cs}',
                 f'{loader}.dataset.pipeline.1.scale=(32,16)',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts + list(extra)


def _train(repo_root, work_dir, options, *flags, launcher=None,
           config=CONFIG):
    cmd = [sys.executable]
    if launcher:
        cmd += launcher
    cmd += ['tools/train.py', config, '--work-dir', work_dir, *flags,
            '--cfg-options', *options]
    proc = run(cmd, cwd=repo_root, env=tool_env(repo_root))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_resume_equals_an_uninterrupted_run(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    straight, split = (osp.join(tmp_path, n) for n in ('straight', 'split'))
    out = _train(repo_root, straight, _options(tmp_path, 4))
    for name in ('src.main.loss_ce', 'src.aux.loss_ce', 'tgt.main.loss_adv',
                 'tgt.aux.loss_adv', 'disc.main.loss_src',
                 'disc.aux.loss_tgt', 'disc.main.acc_src'):
        assert name in out, name
    assert 'mIoU' in out  # validation ran through the delegating predict
    _train(repo_root, split, _options(tmp_path, 2))
    out = _train(repo_root, split, _options(tmp_path, 4), '--resume')
    assert 'resumed epoch: 0, iter: 2' in out

    a, b = (_load(osp.join(d, 'iter_4.pth')) for d in (straight, split))
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert set(a['state_dict']) == set(b['state_dict'])
    assert any(k.startswith('discriminators.') for k in a['state_dict'])
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][key], value, msg=key)
    # both optimizers' states (momentum, Adam moments) and both schedulers
    for name in ('segmentor', 'discriminators'):
        sa, sb = a['optimizer'][name], b['optimizer'][name]
        assert sa['param_groups'] == sb['param_groups']
        for pid, state in sa['state'].items():
            for k, v in state.items():
                torch.testing.assert_close(sb['state'][pid][k], v)
    assert a['param_schedulers'] == b['param_schedulers']
    assert set(a['param_schedulers']) == {'segmentor', 'discriminators'}


def test_two_process_ddp_keeps_ranks_identical(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    work = osp.join(tmp_path, 'ddp')
    launcher = torchrun(2)
    config = osp.join(tmp_path, 'ddp_config.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = ['{osp.join(repo_root, CONFIG)}']\n"
                "custom_imports = dict(imports=['mmseg_uda', "
                "'tests.reference.rank_state_hook'])\n"
                "custom_hooks = [dict(type='SaveRankParametersHook')]\n")
    options = _options(tmp_path, 2, extra=['env_cfg.dist_cfg.backend=gloo'])
    _train(repo_root, work, options, '--launcher', 'pytorch',
           launcher=launcher, config=config)
    r0, r1 = (_load(osp.join(work, f'rank{r}_params.pth')) for r in (0, 1))
    assert any(k.startswith('segmentor.') for k in r0)
    assert any(k.startswith('discriminators.') for k in r0)
    saved = _load(osp.join(work, 'iter_2.pth'))['state_dict']
    # DDP-wrapped children are saved under their plain names
    assert not any('.module.' in k for k in saved)
    for key, value in r0.items():
        # ranks drew different samples, yet hold the same parameters
        torch.testing.assert_close(r1[key], value, msg=key)
        torch.testing.assert_close(saved[key], value, msg=key)
