"""Installation script of mmseg_uda."""
import os.path as osp

from setuptools import find_packages, setup


def read_version() -> str:
    """Read ``__version__`` from ``mmseg_uda/version.py`` without importing the package."""
    namespace: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmseg_uda', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='mmseg_uda',
    version=read_version(),
    description='Unsupervised domain adaptation for semantic segmentation on mmsegmentation 1.x',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'tests.*')),
    python_requires='>=3.8',
    install_requires=[
        # torch is deliberately not listed: the environment's torch (CPU or CUDA) is kept as it is.
        'mmcv>=2.0.0rc4,<2.2.0',  # built with ops; mmseg 1.2.x refuses mmcv >= 2.2
        'mmengine>=0.10.0,<0.11.0',
        'mmsegmentation>=1.2.0,<1.3.0',
        'numpy',
        'opencv-python',
        'Pillow',
        'matplotlib',
        'prettytable',
        'ftfy',  # imported by mmseg's text tokenizer at `import mmseg.models`
        'regex',
        'psutil',  # peak-memory figures of the benchmark tools
    ],
    extras_require={
        'tests': [
            'pytest', 'pytest-timeout', 'tensorboard', 'hypothesis',
            'psutil'
        ],
        'mmpretrain': ['mmpretrain>=1.0.0'],
    },
    zip_safe=False,
)
