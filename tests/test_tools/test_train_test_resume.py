"""tools/train.py, --resume and tools/test.py on the shipped R101 config."""
import glob
import os.path as osp
import re

import pytest
import torch

from tests.reference.original_deeplabv2 import OriginalResNetMulti
from tests.reference.tiny_layouts import make_cityscapes, make_gta
from tests.tool_runs import run_python

pytestmark = pytest.mark.slow

CONFIG = 'configs/source_only/deeplabv2_r101_gta2cs.py'


def _run(repo_root, *args):
    proc = run_python(args, repo_root=repo_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _options(tmp_path, init_ckpt, max_iters):
    gta, cs = osp.join(tmp_path, 'gta'), osp.join(tmp_path, 'cityscapes')
    opts = [
        f'train_dataloader.dataset.data_root={gta}',
        'train_dataloader.dataset.pipeline.2.scale=(64,36)',
        f'model.backbone.init_cfg.checkpoint={init_ckpt}',
        f'train_cfg.max_iters={max_iters}', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
        'randomness.seed=0',
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    for loader in ('val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={cs}',
                 f'{loader}.dataset.pipeline.1.scale=(32,16)']
    return opts


def test_train_checkpoint_resume_and_test(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    make_gta(osp.join(tmp_path, 'gta'))
    make_cityscapes(osp.join(tmp_path, 'cityscapes'))
    # An ImageNet-style init file as the originals ship it, converted.
    torch.manual_seed(0)
    init = {f'Scale.{k}': v
            for k, v in OriginalResNetMulti().state_dict().items()}
    src, init_ckpt = (osp.join(tmp_path, n) for n in ('init.pth', 'i.pth'))
    torch.save(init, src)
    _run(repo_root, 'tools/model_converters/original_deeplabv2.py', src,
         init_ckpt)

    work_dir = osp.join(tmp_path, 'work')
    out = _run(repo_root, 'tools/train.py', CONFIG, '--work-dir', work_dir,
               '--cfg-options', *_options(tmp_path, init_ckpt, 2))
    assert 'mIoU' in out
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))

    # --resume continues from iter_2 (torch >= 2.6 loads it with our
    # allow-list) and trains to 4.
    out = _run(repo_root, 'tools/train.py', CONFIG, '--work-dir', work_dir,
               '--resume', '--cfg-options', *_options(tmp_path, init_ckpt, 4))
    assert re.search(r'resumed epoch: \d+, iter: 2', out), out[-2000:]
    assert re.search(r'Iter\(train\) \[4/4\]', out)
    assert not re.search(r'Iter\(train\) \[[12]/4\]', out)
    ckpt = torch.load(osp.join(work_dir, 'iter_4.pth'), map_location='cpu',
                      weights_only=False)
    assert ckpt['meta']['iter'] == 4

    out_dir, show_dir = (osp.join(tmp_path, n) for n in ('out', 'show'))
    out = _run(repo_root, 'tools/test.py', CONFIG,
               osp.join(work_dir, 'iter_4.pth'), '--work-dir', work_dir,
               '--out', out_dir, '--show-dir', show_dir,
               '--cfg-options', *_options(tmp_path, init_ckpt, 4))
    assert re.search(r'mIoU: \d+\.\d+', out)
    # --out: one label-id PNG per val image; --show-dir: every image painted
    assert len(glob.glob(osp.join(out_dir, '*.png'))) == 2
    assert len(glob.glob(osp.join(show_dir, '**', '*.png'),
                         recursive=True)) == 2
