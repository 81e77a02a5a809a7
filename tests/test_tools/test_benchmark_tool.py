"""benchmarks/benchmark.py on the demo AdaptSegNet config with
tiny on-disk demo data."""
import json
import os.path as osp
import re

import pytest

from tests.tool_runs import run_python
from tools.demo.demo_dataset import generate_demo_dataset

pytestmark = pytest.mark.slow

TOOL = 'benchmarks/benchmark.py'
CONFIG = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'


def _run(repo_root, *args):
    return run_python([TOOL, CONFIG, *args], repo_root=repo_root)


def _options(root):
    loader = 'train_dataloader'
    opts = [f'{loader}.dataset.source.data_root={root}/source',
            f'{loader}.dataset.target.data_root={root}/target',
            f'{loader}.batch_size=1']
    for name in (loader, 'val_dataloader', 'test_dataloader'):
        opts += [f'{name}.num_workers=0', f'{name}.persistent_workers=False']
    for name in ('val_dataloader', 'test_dataloader'):
        opts.append(f'{name}.dataset.data_root={root}/target')
    return opts


def _row(out, side):
    match = re.search(rf'^{side}\s+(.*)$', out, re.MULTILINE)
    assert match, out
    return [float(v) for v in match.group(1).split() if v != '-']


def test_benchmark_prints_and_writes_figures(repo_root, tmp_path):
    root = str(tmp_path / 'demo')
    generate_demo_dataset(root, num_source_train=3, num_source_val=1,
                          num_target_train=4, num_target_val=1,
                          size=(32, 64))
    out_json = str(tmp_path / 'figures.json')
    proc = _run(repo_root, '--iters', '3', '--warmup', '1', '--device',
                'cpu', '--ranker', '--pseudo-labels', '--num-images', '1',
                '--no-progress', '--json', out_json, '--work-dir',
                str(tmp_path / 'work'), '--cfg-options', *_options(root))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert 'torch 2.' in out and 'mmseg 1.' in out and 'date ' in out
    ours, plain = _row(out, 'ours'), _row(out, 'plain')
    for row in (ours, plain):
        # median, q1, q3, min, max (ms), samples/s, peak RSS MB
        assert len(row) == 7 and all(v > 0 for v in row), out
        assert row[3] <= row[1] <= row[2] <= row[4] or \
            row[3] <= row[0] <= row[4]
    figures = json.load(open(out_json))
    train = figures['train_step']
    assert train['iters'] == 3 and train['warmup'] == 1
    assert len(train['ours_times']) == len(train['plain_times']) == 3
    assert train['samples_per_iter'] == 2  # 1 source + 1 target image
    ratio = train['ours']['median_s'] / train['plain']['median_s']
    assert train['ratio_of_medians'] == pytest.approx(ratio)
    assert f"ratio of medians {ratio:.3f}" in out
    assert 0 < train['data_wait_share'] < 1
    assert f"{100 * train['data_wait_share']:.1f}%" in out
    assert ours[0] == pytest.approx(1000 * train['ours']['median_s'],
                                    abs=0.06)
    assert plain[5] == pytest.approx(train['plain']['samples_per_s'],
                                     abs=0.006)
    assert figures['environment']['torch'] in out
    tasks = {r['task']: r for r in figures['inference']}
    assert set(tasks) == {'ranker', 'pseudo_labels'}
    for result in tasks.values():
        rows = {(r['side'], r['images']) for r in result['rows']}
        assert rows == {(s, n) for s in ('ours', 'original')
                        for n in (1, 2)}
        for r in result['rows']:
            assert r['images_per_s'] == pytest.approx(
                r['images'] / r['seconds'])
            assert r['peak_rss_mb'] > 0
    assert 'ranker on AdversarialUDASegmentor' in out
    assert 'pseudo_labels on AdversarialUDASegmentor' in out


def test_amp_on_cpu_fails_before_work(repo_root, tmp_path):
    proc = _run(repo_root, '--amp', '--device', 'cpu', '--work-dir',
                str(tmp_path / 'work'))
    assert proc.returncode != 0
    assert '--amp needs CUDA' in proc.stderr
    assert not osp.exists(tmp_path / 'work')


def test_cuda_without_cuda_fails_clearly(repo_root, tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip('CUDA is available here')
    proc = _run(repo_root, '--device', 'cuda', '--work-dir',
                str(tmp_path / 'work'))
    assert proc.returncode != 0
    assert 'CUDA is not available' in proc.stderr
