"""Smoke test of ``benchmarks/data_loader.py`` at a tiny size."""
import json
import os.path as osp

import cv2
import mmseg
import pytest

from tests.tool_runs import run_python

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'benchmarks', 'data_loader.py')


@pytest.mark.slow
def test_data_loader_benchmark_runs_and_reports(tmp_path):
    out = str(tmp_path / 'figures.json')
    data_root = str(tmp_path / 'frames')
    proc = run_python(
        [SCRIPT, '--num', '2', '--size', '96', '52', '--scale', '64', '36',
         '--workers', '0', '1', '--repeat', '1', '--data-root', data_root,
         '--json', out], repo_root=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    # the installed mmseg, whichever 1.2.x setup.py let in
    assert 'data loader benchmark, date' in text
    assert f'mmseg {mmseg.__version__}' in text
    assert '2 frames 96x52 -> 64x36' in text
    assert 'samples/s' in text and 'decoding' in text
    # The frames were written at the requested size.
    img = cv2.imread(osp.join(data_root, 'images', '00001.png'))
    label = cv2.imread(
        osp.join(data_root, 'labels', '00001_labelTrainIds.png'),
        cv2.IMREAD_UNCHANGED)
    assert img.shape == (52, 96, 3) and label.shape == (52, 96)
    assert label.max() < 19
    with open(out) as f:
        report = json.load(f)
    assert report['num'] == 2 and report['scale'] == [64, 36]
    rows = {(r['data'], r['workers']): r for r in report['loaders']}
    assert set(rows) == {(d, w) for d in ('original', 'cached')
                         for w in (0, 1)}
    for row in rows.values():
        assert row['samples'] == 2
        assert 0 < row['first_batch_s'] <= row['total_s']
        assert row['steady_samples_per_s'] > 0
    original = report['breakdown']['original']
    cached = report['breakdown']['cached']
    assert list(original) == ['LoadImageFromFile', 'LoadAnnotations',
                              'Resize', 'PackSegInputs']
    assert list(cached) == ['RedirectToResizedCache', 'LoadImageFromFile',
                            'LoadAnnotations', 'Resize',
                            'RestoreUncachedMeta', 'PackSegInputs']
    assert all(v > 0 for v in original.values())
