"""tools/visualize_entropy.py writes a PNG figure from a ranking."""
import os
import os.path as osp
import sys

import cv2
import pytest

from tests.reference.tiny_layouts import make_cityscapes
from tests.test_tools.test_rank_targets import (CONFIG, SIZE, TINY, rank,
                                                tiny_model)
from tests.tool_runs import run, tool_env

pytestmark = pytest.mark.slow


def test_visualize_entropy_writes_the_figure(repo_root, tmp_path):
    tmp = str(tmp_path)
    cs = osp.join(tmp, 'cityscapes')
    make_cityscapes(cs, split='train', num=4, size=(64, 128), seed=3)
    ckpt = osp.join(tmp, 'model.pth')
    tiny_model(repo_root, ckpt)
    rank_dir = osp.join(tmp, 'rank')
    rank(repo_root, cs, ckpt, rank_dir)
    out = osp.join(tmp, 'fig', 'entropy.png')
    cmd = [sys.executable, 'tools/visualize_entropy.py', CONFIG, ckpt,
           '--rank-dir', rank_dir, '--out', out, '--num', '2',
           '--cfg-options', *TINY,
           f'train_dataloader.dataset.target.data_root={cs}',
           f'test_dataloader.dataset.pipeline.1.scale=({SIZE[0]},{SIZE[1]})']
    proc = run(cmd, cwd=repo_root, env=tool_env(repo_root))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    img = cv2.imread(out)
    assert img is not None and img.shape[0] > 400 and img.shape[1] > 800
    assert os.listdir(osp.dirname(out)) == ['entropy.png']  # no temp left
