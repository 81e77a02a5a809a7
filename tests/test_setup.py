"""What ``setup.py`` installs: the library package ``mmseg_uda`` only."""
import runpy

import setuptools

from tests.conftest import REPO_ROOT


def test_only_the_library_is_installed(monkeypatch):
    captured = {}
    monkeypatch.setattr(setuptools, 'setup',
                        lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(REPO_ROOT)
    runpy.run_path('setup.py', run_name='__main__')
    packages = captured['packages']
    assert {'mmseg_uda', 'mmseg_uda.utils', 'mmseg_uda.models.uda',
            'mmseg_uda.engine.hooks', 'mmseg_uda.datasets.transforms'} <= set(
                packages)
    outside = [p for p in packages if p.split('.')[0] != 'mmseg_uda']
    assert outside == []
    tools = [p for p in packages
             if {'benchmark', 'benchmarks', 'demo'} & set(p.split('.'))]
    assert tools == []
    assert not captured.get('package_data') and not captured.get(
        'data_files')

