"""The offline install: tools/download_wheels.sh fills a folder, `make setup WHEELS=DIR` installs from it alone.

The folder is made in the test (that step needs the package index); the install then runs in a new virtual
environment with pip's configuration off and every proxy pointed at a closed port, so any attempt to reach the network
fails the install. torch is linked into the environment (it is the user's, never installed by the setup); mmcv comes
from the setup's wheel cache, as it does on a second install (compiling it takes far longer than a test may).
"""
import glob
import importlib.metadata as metadata
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLOSED = 'http://127.0.0.1:9'


def cached_mmcv_wheel() -> str:
    """The mmcv wheel the setup cached for this torch build, or '' when there is none."""
    cache = os.environ.get('MMSEG_UDA_CACHE') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'), 'mmseg_uda')
    key = f'torch-{torch.__version__}-cuda-{torch.version.cuda or "none"}-ops-cpu'
    wheels = glob.glob(osp.join(cache, 'wheels', key, 'mmcv-2.1.0-*.whl'))
    return wheels[0] if wheels else ''


def link_distribution(name: str, dest: str, seen: set) -> None:
    """Symlink an installed distribution (its top-level entries and metadata) and what it requires into ``dest``."""
    key = name.lower().replace('_', '-')
    if key in seen or key == 'setuptools':  # the new environment installs its own setuptools from the folder
        return
    seen.add(key)
    dist = metadata.distribution(name)
    root = str(dist.locate_file(''))
    tops = {str(f).split('/')[0] for f in dist.files or [] if not str(f).startswith('..')}
    for top in tops:
        src, dst = osp.join(root, top), osp.join(dest, top)
        if top != '__pycache__' and osp.exists(src) and not osp.exists(dst):
            os.symlink(src, dst)
    for req in dist.requires or []:
        if 'extra ==' not in req:
            dep = req.split(';')[0].strip().split(' ')[0]
            for sep in '<>=!~[(':
                dep = dep.split(sep)[0]
            link_distribution(dep.strip(), dest, seen)


@pytest.mark.slow
@pytest.mark.skipif(torch.version.cuda is not None, reason='the cached CPU-ops mmcv wheel is for CPU torch builds')
def test_setup_installs_from_a_wheel_folder_without_network(tmp_path):
    mmcv_wheel = cached_mmcv_wheel()
    if not mmcv_wheel:
        pytest.skip('no mmcv wheel in the setup cache for this torch build (mmcv was installed another way)')
    wheels = tmp_path / 'wheels'
    fetched = subprocess.run(['bash', osp.join(REPO, 'tools', 'download_wheels.sh'), str(wheels)],
                             capture_output=True, text=True, timeout=900)
    assert fetched.returncode == 0, fetched.stdout[-2000:] + fetched.stderr[-2000:]
    assert (wheels / 'mmcv-2.1.0.tar.gz').is_file()
    for name in ('mmengine-0.10.', 'mmsegmentation-1.2.', 'setuptools-', 'ninja-'):
        assert glob.glob(str(wheels / f'{name}*.whl')), f'{name} missing from the folder'

    # A copy of the checkout (the setup writes its stamp into the tree) and a new environment that sees torch only.
    repo = tmp_path / 'repo'
    files = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True, text=True, check=True,
                           timeout=60).stdout.split()
    for rel in files:
        if osp.isfile(osp.join(REPO, rel)):
            os.makedirs(osp.dirname(repo / rel), exist_ok=True)
            shutil.copy2(osp.join(REPO, rel), repo / rel)
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, timeout=300)
    python = str(venv / 'bin' / 'python')
    site = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    torch_dir = tmp_path / 'torch_only'
    torch_dir.mkdir()
    link_distribution('torch', str(torch_dir), set())
    with open(osp.join(site, 'torch_only.pth'), 'w') as f:
        f.write(str(torch_dir) + '\n')
    cache = tmp_path / 'cache'
    key_dir = cache / 'wheels' / osp.basename(osp.dirname(mmcv_wheel))
    key_dir.mkdir(parents=True)
    shutil.copy2(mmcv_wheel, key_dir)

    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=f'{CLOSED}/simple', http_proxy=CLOSED,
               https_proxy=CLOSED, HTTP_PROXY=CLOSED, HTTPS_PROXY=CLOSED, PIP_NO_CACHE_DIR='1')
    env.pop('PYTHONPATH', None)
    setup = subprocess.run(['make', '-C', str(repo), 'setup', f'PYTHON={python}', f'WHEELS={wheels}',
                            f'MMSEG_UDA_CACHE={cache}'], env=env, capture_output=True, text=True, timeout=900)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert f'offline: installing from {wheels}' in setup.stdout
    assert 'using cached mmcv wheel' in setup.stdout
    assert 'mmcv 2.1.0 with cpu ops installed' in setup.stdout

    check = subprocess.run(
        [python, '-I', '-c', 'import mmcv.ops, mmengine, mmseg, mmseg_uda, torch; '
         'print(mmengine.__file__); print(mmseg.__file__); print(mmseg_uda.__file__); print(torch.__version__)'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr[-3000:]
    mmengine_file, mmseg_file, ours, torch_version = check.stdout.split()
    assert mmengine_file.startswith(str(venv)) and mmseg_file.startswith(str(venv))
    assert osp.realpath(ours) == osp.realpath(str(repo / 'mmseg_uda' / '__init__.py'))
    assert torch_version == torch.__version__
