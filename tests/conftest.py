"""Shared pytest fixtures and helpers."""
import contextlib
import itertools
import logging
import os.path as osp
import sys
from typing import Iterator, List

import pytest
from mmengine.logging import MessageHub

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
_HUB_NAMES = (f'test-message-hub-{i}' for i in itertools.count())
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers of the suite."""
    config.addinivalue_line(
        'markers', 'reliability: fault tests (kills, corrupt checkpoints, '
        'NaNs, bad data, distributed faults) and property tests; '
        '`make test-faults` runs them')
    config.addinivalue_line(
        'markers', 'slow: end-to-end runs of the tools in subprocesses '
        '(training, torchrun, kills) and other tests that take seconds; '
        '`make test-fast` leaves them out')


@pytest.fixture(scope='session')
def repo_root() -> str:
    """Absolute path of the repository."""
    return REPO_ROOT


class _Records(logging.Handler):
    """Keeps the messages of the records it handles."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def mmengine_messages(level: int = logging.INFO) -> Iterator[List[str]]:
    """Messages logged through mmengine's current logger meanwhile."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    handler = _Records(level)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def info_log() -> Iterator[List[str]]:
    """Messages (INFO and above) logged through mmengine's current logger.
    """
    with mmengine_messages(logging.INFO) as messages:
        yield messages


@pytest.fixture(autouse=True)
def isolated_message_hub():
    """Give every test a fresh current ``MessageHub`` and drop the ones it
    created afterwards, so that runtime info a test writes (``iter``,
    counters) never reaches the next test."""
    instances = MessageHub._instance_dict
    before = dict(instances)
    hub = MessageHub.get_instance(next(_HUB_NAMES))
    yield hub
    instances.clear()
    instances.update(before)
