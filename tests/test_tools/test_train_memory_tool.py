"""benchmarks/train_memory.py: peak memory of training steps per memory
option, on the demo DAFormer-style config at tiny sizes."""
import json
import re

import pytest

from tests.tool_runs import run_python

pytestmark = pytest.mark.slow

TOOL = 'benchmarks/train_memory.py'
CONFIG = 'configs/demo/deeplabv2_r18_tiny_daformer_demo.py'


def test_prints_and_writes_a_row_per_variant(repo_root, tmp_path):
    out_json = str(tmp_path / 'memory.json')
    proc = run_python([TOOL, CONFIG, '--crop', '32', '48', '--batch', '1',
                       '--iters', '1', '--variants', 'fp32', 'cp',
                       '--device', 'cpu', '--json', out_json],
                      repo_root=repo_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'device cpu, batch 1 per domain, crop 32x48, 1 steps' in \
        proc.stdout
    rows = {m.group(1): (int(m.group(2)), float(m.group(3))) for m in
            re.finditer(r'^(fp32|cp)\s+(\d+)\s+([\d.]+)$', proc.stdout,
                        re.MULTILINE)}
    assert set(rows) == {'fp32', 'cp'}, proc.stdout
    figures = json.load(open(out_json))
    assert figures['config'] == CONFIG
    assert [v['variant'] for v in figures['variants']] == ['fp32', 'cp']
    for row in figures['variants']:
        # the model, its optimizer state and a step take memory and time
        assert row['peak_rss_growth_mb'] > 0 and row['peak_cuda_mb'] is None
        assert row['seconds_per_step'] > 0
        assert rows[row['variant']] == (row['peak_rss_growth_mb'],
                                        pytest.approx(
                                            row['seconds_per_step'],
                                            abs=0.01))


def test_amp_on_the_cpu_is_refused_before_work(repo_root):
    proc = run_python([TOOL, CONFIG, '--variants', 'amp', '--device', 'cpu',
                       '--crop', '32', '48'], repo_root=repo_root)
    assert proc.returncode != 0
    assert 'the amp variant needs CUDA' in proc.stderr


def test_a_missing_config_is_named(repo_root):
    proc = run_python([TOOL, 'configs/nope.py'], repo_root=repo_root)
    assert proc.returncode != 0
    assert 'config file not found: configs/nope.py' in proc.stderr
