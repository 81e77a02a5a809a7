"""tools/demo/run_demo.py end to end on a tiny demo set."""
import json
import os.path as osp
import sys

import cv2
import pytest

from tests.tool_runs import run, tool_env

pytestmark = pytest.mark.slow


def test_run_demo_trains_evaluates_and_draws(repo_root, tmp_path):
    data, work = osp.join(tmp_path, 'data'), osp.join(tmp_path, 'work')
    cmd = [
        sys.executable, 'tools/demo/run_demo.py', '--data-root', data,
        '--work-dir', work, '--max-iters', '2', '--num-vis', '2',
        '--data-options', 'num_source_train=4', 'num_source_val=2',
        'num_target_train=2', 'num_target_val=2'
    ]
    proc = run(cmd, cwd=repo_root, env=tool_env(repo_root))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    columns = {f'{m}/{d}' for m in ('source_only', 'adaptseg', 'daformer')
               for d in ('source', 'target')}
    for name in sorted(columns) + ['road', 'car', 'mIoU']:
        assert name in out, name
    # the adaptation run starts from the source-only checkpoint
    source_ckpt = osp.join(work, 'deeplabv2_r18_tiny_source_only_demo',
                           'iter_2.pth')
    assert f'load_from={source_ckpt}' in out
    with open(osp.join(work, 'results.json')) as f:
        results = json.load(f)['results']
    assert set(results) == columns
    assert len(results['adaptseg/target']['IoU']) == 7
    grid = cv2.imread(osp.join(work, 'target_predictions.png'))
    # 2 rows of image | label | 3 predictions at 128x256, titles and gaps
    assert grid.shape[1] == 5 * 256 + 4 * 4
    assert grid.shape[0] == 2 * (128 + 18) + 4

    # a second run reuses the data and the finished training
    proc = run(cmd, cwd=repo_root, env=tool_env(repo_root))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'skipping training' in proc.stdout
