"""Train BDL's translator with tools/train.py for 2 iterations, translate
the source set with tools/translate_source.py, draw it."""
import json
import os
import os.path as osp
import sys

import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from tests.reference.tiny_layouts import make_cityscapes, make_gta
from tests.test_models.test_translators.helpers import write_tiny_segmentor
from tests.tool_runs import (kill_midway, output_files, run_python, start,
                             tool_env)

pytestmark = pytest.mark.slow

CONFIG = 'configs/bdl/cyclegan_perceptual_gta2cs.py'


def _run(repo_root, *cmd):
    proc = run_python(cmd, repo_root=repo_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def _options(tmp_path):
    gta, cs = osp.join(tmp_path, 'gta'), osp.join(tmp_path, 'cityscapes')
    make_gta(gta, num=3)
    make_cityscapes(cs, split='train', num=2)
    seg_config, seg_ckpt, _ = write_tiny_segmentor(tmp_path)
    opts = [
        'model.generator.base_channels=8', 'model.generator.num_blocks=2',
        'model.discriminator.base_channels=8',
        f'model.perceptual_segmentor.config={seg_config}',
        f'model.perceptual_segmentor.checkpoint={seg_ckpt}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_cfg.max_iters=2', 'default_hooks.logger.interval=1',
        'randomness.seed=0',
    ]
    for domain, root in (('source', gta), ('target', cs)):
        key = f'train_dataloader.dataset.{domain}'
        opts += [f'{key}.data_root={root}',
                 f'{key}.pipeline.1.width=64',
                 f'{key}.pipeline.2.crop_size=(32,32)']
    return opts


def test_train_translate_resume_and_draw(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    opts = _options(tmp_path)
    work = osp.join(tmp_path, 'work')
    out = _run(repo_root, 'tools/train.py', CONFIG, '--work-dir', work,
               '--cfg-options', *opts)
    for key in ('gen.loss_gan_s2t', 'gen.loss_cycle_source',
                'gen.loss_identity_target', 'gen.loss_sem_rec_source',
                'gen.loss_sem_t2s', 'disc.loss_target', 'disc.loss_source'):
        assert key in out, key
    ckpt_path = osp.join(work, 'iter_2.pth')
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    prefixes = {k.split('.')[0] for k in ckpt['state_dict']}
    assert prefixes == {'generators', 'discriminators', 'pools'}
    assert set(ckpt['optimizer']) == {'generators', 'discriminators'}

    translated = osp.join(tmp_path, 'translated')
    args = ['tools/translate_source.py', CONFIG, ckpt_path, '--out',
            translated, '--batch-size', '2', '--cfg-options', *opts]
    _run(repo_root, *args)
    gta_images = sorted(os.listdir(osp.join(tmp_path, 'gta', 'images')))
    outputs = sorted(os.listdir(osp.join(translated, 'images')))
    assert outputs == gta_images
    first = osp.join(translated, 'images', outputs[0])
    for name in outputs:
        src = cv2.imread(osp.join(tmp_path, 'gta', 'images', name))
        dst = cv2.imread(osp.join(translated, 'images', name))
        assert dst.shape == src.shape == (36, 64, 3), name
        assert not (dst == src).all()
    summary = json.load(open(osp.join(translated, 'translation.json')))
    assert summary['count'] == 3
    assert summary['source_label_dir'].endswith(osp.join('gta', 'labels'))
    assert summary['checkpoint'] == osp.abspath(ckpt_path)

    # resume: existing translations are kept, a missing one is redone
    mtime = os.stat(first).st_mtime_ns
    os.remove(osp.join(translated, 'images', outputs[-1]))
    out = _run(repo_root, *args)
    assert '1 already translated' not in out and '2 already' in out
    assert os.stat(first).st_mtime_ns == mtime
    assert sorted(os.listdir(osp.join(translated, 'images'))) == gta_images

    # another scale (or checkpoint) into the same --out is refused
    proc = run_python([*args, '--scale', '30', '18'], repo_root=repo_root)
    assert proc.returncode != 0
    assert 'give a new --out' in proc.stderr

    scaled = osp.join(tmp_path, 'scaled')
    _run(repo_root, *args[:4], scaled, '--scale', '30', '18',
         '--cfg-options', *opts)
    img = cv2.imread(osp.join(scaled, 'images', outputs[0]))
    assert img.shape == (18, 30, 3)

    png = osp.join(tmp_path, 'pictures', 'translation.png')
    _run(repo_root, 'tools/visualize_translation.py', CONFIG, ckpt_path,
         '--out', png, '--num', '2', '--width', '64', '--cfg-options',
         *opts)
    grid = cv2.imread(png)
    # 2 rows of 6 titled 36x64 panels with 4-pixel gaps
    assert grid.shape == (2 * (36 + 20) + 4, 6 * 64 + 5 * 4, 3)



# the tiny networks of _options, as a dict for Config.merge_from_dict
TINY_NETS = {'model.generator.base_channels': 8,
             'model.generator.num_blocks': 2,
             'model.discriminator.base_channels': 8}


def _untrained_translator(repo_root, path):
    """A seeded, untrained translator of CONFIG with TINY_NETS, saved."""
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.merge_from_dict(TINY_NETS)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model_cfg = cfg.model.copy()
    model_cfg['perceptual_segmentor'] = None  # not saved in checkpoints
    model = MODELS.build(model_cfg)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)


@pytest.mark.slow
@pytest.mark.reliability
def test_killed_translation_resumes_to_identical_images(repo_root,
                                                        tmp_path):
    """SIGKILL translate_source.py midway, run it again: the same files as
    a run that was never interrupted, and none cut short."""
    tmp = str(tmp_path)
    num = 60
    gta = osp.join(tmp, 'gta')
    make_gta(gta, num=num, size=(72, 128))
    ckpt = osp.join(tmp, 'translator.pth')
    _untrained_translator(repo_root, ckpt)
    opts = [f'{k}={v}' for k, v in TINY_NETS.items()] + [
        f'train_dataloader.dataset.source.data_root={gta}']

    def args(out):
        return ['tools/translate_source.py', CONFIG, ckpt, '--out', out,
                '--cfg-options', *opts]

    full, part = osp.join(tmp, 'full'), osp.join(tmp, 'part')
    _run(repo_root, *args(full))
    proc = start([sys.executable, *args(part)], cwd=repo_root,
                 env=tool_env(repo_root))
    images = osp.join(part, 'images')

    def written():
        return len([f for f in os.listdir(images) if f.endswith('.png')
                    and not f.startswith('.')]) if osp.isdir(images) else 0

    done = kill_midway(proc, written, 3, num, 'translated images')
    assert not osp.exists(osp.join(part, 'translation.json'))

    out = _run(repo_root, *args(part))
    assert f'{done} already translated' in out
    translated = output_files(osp.join(full, 'images'))
    assert len(translated) == num
    assert output_files(images) == translated
    summaries = []
    for out_dir in (part, full):
        with open(osp.join(out_dir, 'translation.json')) as f:
            summary = json.load(f)
        assert summary.pop('translated_img_dir') == osp.join(out_dir,
                                                             'images')
        summaries.append(summary)
    assert summaries[0] == summaries[1]
