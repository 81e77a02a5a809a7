"""Shared pytest fixtures and helpers."""
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


@pytest.fixture(scope='session')
def repo_root() -> str:
    """Absolute path of the repository."""
    return REPO_ROOT
