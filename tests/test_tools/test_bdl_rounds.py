"""tools/bdl_rounds.py: BDL's k=2 recipe end to end on tiny data, a step
killed midway and resumed by the rerun, every intermediate artefact in its
documented place, and a rerun after success does nothing."""
import json
import os
import os.path as osp
import signal
import sys

import pytest
import torch
from mmengine.config import Config

from tests.reference.original_recipes import (BDL_NO_SSL_STEPS_STOP,
                                              BDL_SSL_STEPS_STOP)
from tests.test_engine.test_hooks.test_pseudo_label_rounds_hook import \
    _options
from tests.tool_runs import (kill_group, run, start, tool_env, wait_for)

pytestmark = pytest.mark.slow

SEGMENTOR = 'configs/bdl/deeplabv2_r101_ssl_gta2cs.py'
# the whole k=2 recipe: 13 tool runs
BDL_TIMEOUT = 1800


def _translator_options(tmp):
    opts = [
        'model.generator.base_channels=8', 'model.generator.num_blocks=1',
        'model.discriminator.base_channels=8',
        'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_cfg.max_iters=1', 'randomness.seed=0',
    ]
    for domain, root in (('source', 'gta'), ('target', 'cityscapes')):
        key = f'train_dataloader.dataset.{domain}'
        opts += [f'{key}.data_root={osp.join(tmp, root)}',
                 f'{key}.pipeline.1.width=64',
                 f'{key}.pipeline.2.crop_size=(32,32)']
    return opts


def _segmentor_config(repo_root, tmp, flag):
    """The SSL config plus a hook that parks M_1^0's training once before
    its iteration 2 (after iteration 1's checkpoint)."""
    cfg = Config.fromfile(osp.join(repo_root, SEGMENTOR))
    cfg.custom_imports = dict(
        imports=['mmseg_uda', 'tests.reference.fault_hooks'],
        allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(
        type='PauseAtIterationHook', iteration=2, flag_file=flag,
        work_dir_suffix=osp.join('round1', 'segmentor0'))]
    path = osp.join(tmp, 'ssl_with_pause.py')
    cfg.dump(path)
    return path


def _command(repo_root, work, tmp):
    seg_opts = _options(tmp, osp.join(tmp, 'unused'), 2, '[]') + [
        'default_hooks.checkpoint.interval=1']
    return [sys.executable, 'tools/bdl_rounds.py', '--work-dir', work,
            '--rounds', '2', '--ssl-steps', '1', '--no-ssl-iters', '2',
            '--segmentor-config',
            _segmentor_config(repo_root, tmp, osp.join(tmp, 'parked')),
            '--segmentor-options', *seg_opts,
            '--translator-options', *_translator_options(tmp),
            '--label-options', '--batch-size', '2']


def _drive(repo_root, work, tmp):
    proc = run(_command(repo_root, work, tmp), cwd=repo_root,
               env=tool_env(repo_root), timeout=BDL_TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout


def _kill_in_round1_segmentor0(repo_root, work, tmp):
    """Run the driver until M_1^0's training is parked after its first
    checkpoint, then SIGKILL the driver and the step it runs."""
    proc = start(_command(repo_root, work, tmp), cwd=repo_root,
                 env=tool_env(repo_root))
    wait_for(lambda: osp.isfile(osp.join(tmp, 'parked')), proc,
             BDL_TIMEOUT, 'the parked round1/segmentor0 step')
    kill_group(proc)
    assert proc.returncode == -signal.SIGKILL


def _log_text(work_dir):
    text = ''
    for root, _, files in os.walk(work_dir):
        text += ''.join(open(osp.join(root, f)).read() for f in files
                        if f.endswith('.log'))
    return text


def test_two_rounds_produce_every_artefact(repo_root, tmp_path):
    tmp = str(tmp_path)
    work = osp.join(tmp, 'bdl')
    _kill_in_round1_segmentor0(repo_root, work, tmp)
    state = json.load(open(osp.join(work, 'rounds.json')))
    before = ['round0/segmentor'] + [f'round1/{s}' for s in (
        'perceptual_segmentor', 'translator', 'translate', 'pictures')]
    assert sorted(state) == sorted(before)  # killed inside segmentor0
    seg0 = osp.join(work, 'round1', 'segmentor0')
    assert osp.isfile(osp.join(seg0, 'iter_1.pth'))
    assert not osp.exists(osp.join(seg0, 'iter_2.pth'))

    # the rerun skips the steps done, resumes the killed one, goes on
    out = _drive(repo_root, work, tmp)
    for name in before:
        assert f'[bdl] {name}: done (' in out, name
    assert 'resumed epoch: 0, iter: 1' in open(
        osp.join(work, 'round1', 'segmentor0.log')).read()
    state = json.load(open(osp.join(work, 'rounds.json')))
    steps = ['round0/segmentor']
    for k in (1, 2):
        steps += [f'round{k}/{s}' for s in (
            'perceptual_segmentor', 'translator', 'translate', 'pictures',
            'segmentor0',
            'pseudo_labels1', 'segmentor1')]
    assert sorted(state) == sorted(steps)
    gta = sorted(os.listdir(osp.join(tmp, 'gta', 'images')))
    seg_ckpt = state['round0/segmentor']['output']
    assert seg_ckpt.startswith(osp.join(work, 'round0', 'segmentor'))
    # round 0 trains without pseudo-labels
    assert 'tgt.main.loss_ce' not in _log_text(
        osp.join(work, 'round0', 'segmentor'))
    for k in (1, 2):
        rnd = osp.join(work, f'round{k}')
        assert osp.isfile(state[f'round{k}/translator']['output'])
        # F_k learns with the perceptual loss of the last segmentor, as
        # BDL's perceptual network: its classifier's first two convs
        translator = Config.fromfile(osp.join(rnd, 'translator.py'))
        perceptual = translator.model.perceptual_segmentor
        assert perceptual.checkpoint == osp.join(rnd,
                                                 'perceptual_segmentor.pth')
        assert tuple(perceptual.dilations) == (6, 12)
        last = torch.load(seg_ckpt, map_location='cpu',
                          weights_only=False)['state_dict']
        first_two = torch.load(perceptual.checkpoint, weights_only=True)
        heads = sorted({k.split('.')[2] for k in first_two['state_dict']
                        if k.startswith('decode_head.convs.')})
        assert heads == ['0', '1']
        for key, value in first_two['state_dict'].items():
            assert torch.equal(value, last[f'segmentor.{key}']), key
        assert sorted(os.listdir(osp.join(rnd, 'translated_source',
                                          'images'))) == gta
        assert osp.isfile(osp.join(rnd, 'translated_source',
                                   'translation.json'))
        assert os.path.getsize(osp.join(rnd, 'pictures.png')) > 0
        # M_k^0: translated source, no pseudo-labels
        first = state[f'round{k}/segmentor0']['output']
        assert 'tgt.main.loss_ce' not in _log_text(
            osp.join(rnd, 'segmentor0'))
        # labels by M_k^0, then M_k^1 trained on them with the SSL term
        labels = osp.join(rnd, 'pseudo_labels1')
        summary = json.load(open(osp.join(labels, 'pseudo_labels.json')))
        settings = dict(summary['settings'])
        assert settings.pop('model').startswith(first)
        assert settings == dict(rule='bdl', quantile=0.5, cap=0.9)
        assert len(os.listdir(osp.join(labels, 'pseudo_labels', 'tiny'))) \
            == 3
        for n in (0, 1):
            segmentor = Config.fromfile(osp.join(rnd, f'segmentor{n}.py'))
            source = segmentor.train_dataloader.dataset.source
            assert source.data_prefix.img_path == osp.join(
                rnd, 'translated_source', 'images')
        assert segmentor.custom_hooks[0].initial_labels == osp.join(
            labels, 'pseudo_labels')
        assert 'tgt.main.loss_ce' in _log_text(osp.join(rnd, 'segmentor1'))
        seg_ckpt = state[f'round{k}/segmentor1']['output']
        assert seg_ckpt.startswith(osp.join(rnd, 'segmentor1'))
        assert osp.isfile(seg_ckpt)
    assert f'2 rounds done: segmentor {seg_ckpt}' in out

    # a rerun finds every step done and runs nothing
    again = _drive(repo_root, work, tmp)
    assert again.count(': done (') == len(steps)
    assert 'tools/train.py' not in again


def test_round_lengths_and_perceptual_weights_are_bdls(repo_root, tmp_path):
    """liyunsheng13/BDL README.md: the segmentors without SSL train 80k
    iterations, the SSL ones 120k; each translator gets the last
    segmentor's weights as BDL's perceptual network (cyclegan/deeplab.py)
    sums them: the first two classifier convs, rates (6, 12)."""
    work = osp.join(str(tmp_path), 'bdl')
    proc = run([sys.executable, 'tools/bdl_rounds.py', '--work-dir', work,
                '--rounds', '2', '--ssl-steps', '2', '--dry-run'],
               cwd=repo_root, env=tool_env(repo_root))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    def max_iters(*parts):
        return Config.fromfile(osp.join(work, *parts)).train_cfg.max_iters

    assert max_iters('round0', 'segmentor.py') == BDL_NO_SSL_STEPS_STOP
    for k in (1, 2):
        rnd = osp.join(work, f'round{k}')
        assert max_iters(rnd, 'segmentor0.py') == BDL_NO_SSL_STEPS_STOP
        for n in (1, 2):
            assert max_iters(rnd, f'segmentor{n}.py') == BDL_SSL_STEPS_STOP
        perceptual = Config.fromfile(
            osp.join(rnd, 'translator.py')).model.perceptual_segmentor
        weights = osp.join(rnd, 'perceptual_segmentor.pth')
        assert perceptual.checkpoint == weights
        assert tuple(perceptual.dilations) == (6, 12)
        converter = [line for line in proc.stdout.splitlines()
                     if f'round{k}/perceptual_segmentor:' in line]
        assert len(converter) == 1
        assert 'tools/model_converters/original_deeplabv2.py' in converter[0]
        assert converter[0].endswith(f'{weights} --num-rates 2')
