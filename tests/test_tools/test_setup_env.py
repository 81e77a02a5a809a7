"""Tests of tools/setup_env.sh's choices: CPU or CUDA ops, the offline folder, what it refuses."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

SCRIPT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools', 'setup_env.sh')


def run_setup(tmp_path, **env) -> subprocess.CompletedProcess:
    """Run the setup script with this interpreter, an empty cache and ``env`` added."""
    full_env = dict(os.environ, PYTHON=sys.executable, MMSEG_UDA_CACHE=str(tmp_path / 'cache'), **env)
    return subprocess.run(['bash', SCRIPT], env=full_env, capture_output=True, text=True, timeout=300)


def test_missing_wheel_folder_is_named(tmp_path):
    result = run_setup(tmp_path, WHEELS=str(tmp_path / 'nowhere'))
    assert result.returncode != 0
    assert f'WHEELS={tmp_path / "nowhere"} is not a directory' in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(torch.version.cuda is not None, reason='needs a CPU build of torch')
def test_force_cuda_on_a_cpu_torch_is_refused_before_building(tmp_path):
    # The installed mmcv has CPU ops only, so CUDA ops mean a rebuild; with a CPU torch that can only fail, and it
    # must say why before compiling anything (the script used to override FORCE_CUDA=1 with 0).
    result = run_setup(tmp_path, FORCE_CUDA='1')
    assert result.returncode != 0
    assert 'FORCE_CUDA=1 asks for mmcv\'s CUDA ops' in result.stderr
    assert 'is a CPU build' in result.stderr
    assert 'compiling mmcv' not in result.stdout
    assert not (tmp_path / 'cache' / 'wheels').exists() or not any((tmp_path / 'cache' / 'wheels').rglob('*.whl'))


@pytest.mark.slow
@pytest.mark.skipif(torch.version.cuda is not None, reason="expects the CPU-ops mmcv of a CPU torch")
def test_installed_cpu_ops_are_kept_without_force_cuda(tmp_path):
    # WITH_TESTS=1 as `make test` runs it, so the editable install is recognised and left as it is.
    result = run_setup(tmp_path, WITH_TESTS='1')
    assert result.returncode == 0, result.stderr
    assert 'mmcv 2.1.0 with cpu ops already importable' in result.stdout
    assert 'already installed from' in result.stdout
    assert 'compiling mmcv' not in result.stdout


def test_download_wheels_refuses_unknown_options(tmp_path):
    script = osp.join(osp.dirname(SCRIPT), 'download_wheels.sh')
    result = subprocess.run(['bash', script, str(tmp_path), '--cuda'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert 'unknown option: --cuda' in result.stderr
    assert not any(tmp_path.iterdir())
