"""Shared pytest fixtures and helpers."""
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers of the suite."""
    config.addinivalue_line(
        'markers', 'reliability: fault tests (kills, corrupt checkpoints, '
        'NaNs, bad data, distributed faults) and property tests; '
        '`make test-faults` runs them')


@pytest.fixture(scope='session')
def repo_root() -> str:
    """Absolute path of the repository."""
    return REPO_ROOT
