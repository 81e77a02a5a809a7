"""PseudoLabelRoundsHook: round switches in a real training run, and resume in
the middle of a round equals an uninterrupted run."""
import json
import os
import os.path as osp
import shutil

import pytest
import torch

from mmseg_uda.engine.hooks.pseudo_label_rounds_hook import \
    PseudoLabelRoundsHook
from tests.test_tools.test_train_adaptseg import _layout, _train

pytestmark = pytest.mark.slow

CONFIG = 'configs/bdl/deeplabv2_r101_ssl_gta2cs.py'


def _options(tmp_path, label_root, max_iters, rounds_at):
    gta, cs = (osp.join(tmp_path, 'gta'), osp.join(tmp_path, 'cityscapes'))
    if not osp.isdir(gta):
        _layout(tmp_path)
    loader = 'train_dataloader'
    target = f'{loader}.dataset.target'
    opts = [
        f'{loader}.dataset.source.data_root={gta}',
        f'{loader}.dataset.source.pipeline.2.scale=(72,48)',
        f'{target}.data_root={cs}',
        f'{target}.pipeline.1.label_dir={label_root}/current',
        f'{target}.pipeline.1.optional=True',
        f'{target}.pipeline.2.scale=(64,48)',
        f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
        'model.segmentor.backbone.init_cfg=None',
        'model.segmentor.backbone.depth=18',
        'model.segmentor.backbone.base_channels=16',
        'model.segmentor.backbone.stem_channels=16',
        'model.segmentor.decode_head.in_channels=128',
        # the shipped config names the hook by its type after the rename
        'custom_hooks.0.type=PseudoLabelRoundsHook',
        f'custom_hooks.0.label_root={label_root}',
        f'custom_hooks.0.rounds_at={rounds_at}',
        'custom_hooks.0.initial_labels=None',
        f'train_cfg.max_iters={max_iters}', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.save_best=None',
        'default_hooks.logger.interval=1', 'randomness.seed=0',
        'randomness.deterministic=True',
    ]
    for loader in ('val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={cs}',
                 f'{loader}.dataset.pipeline.1.scale=(64,48)',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts


def _scalars(work_dir):
    [run] = [d for d in os.listdir(work_dir) if d[:2] == '20']
    path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
    with open(path) as f:
        return [json.loads(line) for line in f]


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_rounds_switch_labels_and_resume_mid_round(repo_root, tmp_path):
    tmp = str(tmp_path)
    # uninterrupted: rounds before iterations 1 and 3 of 4
    straight_labels = osp.join(tmp, 'labels_a')
    straight = osp.join(tmp, 'a')
    _train(repo_root, straight,
           _options(tmp, straight_labels, 4, '[1,3]'), config=CONFIG)
    logs = _scalars(straight)
    with_ssl = [r['step'] for r in logs if 'tgt.main.loss_ce' in r]
    # iteration 0 trains without labels; rounds start at the 2nd iteration
    assert with_ssl == [2, 3, 4]
    assert all('tgt.main.loss_adv' in r for r in logs if 'step' in r
               and 'src.main.loss_ce' in r)
    current = osp.join(straight_labels, 'current')
    assert osp.islink(current)
    [run] = [d for d in os.listdir(straight_labels) if d != 'current']
    run_dir = osp.join(straight_labels, run)
    assert sorted(os.listdir(run_dir)) == ['round_1', 'round_2']
    assert osp.realpath(current) == osp.realpath(
        osp.join(run_dir, 'round_2', 'pseudo_labels'))
    for k in (1, 2):
        labels = osp.join(run_dir, f'round_{k}', 'pseudo_labels', 'tiny')
        assert len(os.listdir(labels)) == 3
    state = _load(osp.join(straight, 'iter_2.pth'))['meta']['self_training']
    assert state['round'] == 1
    assert state['label_dir'] == osp.join(run_dir, 'round_1',
                                          'pseudo_labels')

    # interrupted after iteration 2 (inside round 1), then resumed
    split_labels = osp.join(tmp, 'labels_b')
    split = osp.join(tmp, 'b')
    _train(repo_root, split, _options(tmp, split_labels, 2, '[1,3]'),
           config=CONFIG)
    # a crash could leave the link elsewhere: the resumed run fixes it
    os.remove(osp.join(split_labels, 'current'))
    out = _train(repo_root, split,
                 _options(tmp, split_labels, 4, '[1,3]'), '--resume',
                 config=CONFIG)
    assert 'self-training round 1, labels:' in out
    assert 'self-training round 2 at iteration 3' in out
    [run_b] = [d for d in os.listdir(split_labels) if d != 'current']
    assert sorted(os.listdir(osp.join(split_labels, run_b))) == [
        'round_1', 'round_2']
    ours = _load(osp.join(split, 'iter_4.pth'))['state_dict']
    for name, value in _load(osp.join(straight, 'iter_4.pth'))[
            'state_dict'].items():
        torch.testing.assert_close(ours[name], value, msg=name)
    # the same labels in both runs
    for k in (1, 2):
        a = osp.join(run_dir, f'round_{k}', 'pseudo_labels.json')
        b = osp.join(split_labels, run_b, f'round_{k}', 'pseudo_labels.json')
        with open(a) as fa, open(b) as fb:
            assert json.load(fa)['thresholds'] == json.load(fb)['thresholds']


def test_schedule_and_arguments():
    hook = PseudoLabelRoundsHook(label_root='x', interval=3)
    assert hook.schedule(10) == [3, 6, 9]
    hook = PseudoLabelRoundsHook(label_root='x', rounds_at=[5, 0, 20])
    assert hook.schedule(10) == [0, 5]
    with pytest.raises(ValueError, match='exactly one'):
        PseudoLabelRoundsHook(label_root='x')
    with pytest.raises(ValueError, match='exactly one'):
        PseudoLabelRoundsHook(label_root='x', rounds_at=[1], interval=2)
    with pytest.raises(ValueError, match='unknown pseudo-label rule'):
        PseudoLabelRoundsHook(label_root='x', interval=2, rule=dict(rule='top'))
    with pytest.raises(ValueError, match='distinct'):
        PseudoLabelRoundsHook(label_root='x', rounds_at=[2, 2])
    # the round sets where labels go and which model made them
    with pytest.raises(KeyError, match=r"unknown keys \['model_id'\]"):
        PseudoLabelRoundsHook(label_root='x', interval=2,
                              rule=dict(rule='bdl', model_id='m'))


def test_link_is_replaced_atomically_and_never_a_directory(tmp_path):
    root = str(tmp_path)
    hook = PseudoLabelRoundsHook(label_root=root, rounds_at=[])
    for name in ('a', 'b'):
        os.makedirs(osp.join(root, name))
    hook.point_current(osp.join(root, 'a'))
    assert os.readlink(hook.current_link) == 'a'
    hook.point_current(osp.join(root, 'b'))
    assert os.readlink(hook.current_link) == 'b'
    hook.point_current(None)
    assert not osp.lexists(hook.current_link)
    os.makedirs(hook.current_link)
    with pytest.raises(FileExistsError, match='not a link'):
        hook.point_current(osp.join(root, 'a'))
    shutil.rmtree(hook.current_link)
    with pytest.raises(FileNotFoundError, match='gen_pseudo_labels'):
        PseudoLabelRoundsHook(label_root=root, rounds_at=[],
                         initial_labels=osp.join(root, 'none')
                         ).resolve_initial_labels()
