"""Installation script of mmseg_uda."""
import os.path as osp

from setuptools import find_packages, setup


def read_version() -> str:
    """Read ``__version__`` from ``mmseg_uda/version.py`` without importing the package."""
    namespace: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmseg_uda', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(name: str) -> list:
    """Read the requirement lines of ``requirements/<name>``, without comments."""
    with open(osp.join(osp.dirname(__file__), 'requirements', name)) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='mmseg_uda',
    version=read_version(),
    description='Unsupervised domain adaptation for semantic segmentation on mmsegmentation 1.x',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    # library code only: tools/, benchmarks/, configs/ and tests/ stay in the repository
    packages=find_packages(include=('mmseg_uda', 'mmseg_uda.*')),
    python_requires='>=3.8',
    install_requires=read_requirements('runtime.txt') + read_requirements('mmcv.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'mmpretrain': ['mmpretrain>=1.0.0'],
    },
    zip_safe=False,
)
