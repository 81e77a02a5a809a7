"""A runner whose default log shows what happens, not every detail.

mmengine's runner logs, at INFO, the system environment, the whole config,
the hook order and one line per parameter for ``paramwise_cfg``: hundreds of
lines before the first iteration of even a tiny run. :class:`QuietRunner`
leaves those records out of the log unless ``log_level='DEBUG'``; the
config itself is still saved into the work dir by mmengine.
:func:`hide_known_warnings` silences a warning that does not apply to the
originals' networks.
"""
import logging
import warnings
from typing import Optional, Union

from mmengine.logging import MMLogger
from mmengine.runner import Runner

#: Starts of the messages treated as details.
DETAIL_MESSAGES = (
    'Config:\n',
    'paramwise_options -- ',
    'Hooks will be executed in the following order',
    '\n' + '-' * 60 + '\nSystem environment:',
)

#: mmseg's hint when ``resize`` upsamples with ``align_corners=True`` to a
#: size not of the form ``n * (x - 1) + 1``.
ALIGN_CORNERS_HINT = r'When align_corners=True, the output would more aligned'


def hide_known_warnings() -> None:
    """Ignore mmseg's ``align_corners`` hint (process-wide).

    DeepLab-v2 upsamples its logits with ``align_corners=True`` to the
    label or input size, as the originals do, whatever the sizes; the hint
    cannot be followed without changing the protocol. Python shows a warning
    once per place until the warning filters change, which saving a
    checkpoint does, so without this the hint repeats after every
    checkpoint.
    """
    warnings.filterwarnings('ignore', message=ALIGN_CORNERS_HINT,
                            category=UserWarning)


RUNTIME_ENV = '\n\nRuntime environment:'


class DetailFilter(logging.Filter):
    """Drops the records that :data:`DETAIL_MESSAGES` start; the environment
    record is cut to its runtime part on one line (launcher, distributed,
    number of processes, seed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is kept (the environment record rewritten)."""
        message = record.msg if isinstance(record.msg, str) else ''
        if message.startswith(DETAIL_MESSAGES[-1]) and RUNTIME_ENV in message:
            runtime = message.split(RUNTIME_ENV, 1)[1].split('\n' + '-' * 60)[0]
            record.msg = 'Runtime environment: ' + ', '.join(
                line.strip() for line in runtime.splitlines() if line.strip())
            record.args = ()
            return True
        return not message.startswith(DETAIL_MESSAGES)


class QuietRunner(Runner):
    """mmengine's :class:`~mmengine.runner.Runner` with a shorter log.

    Behaves as the runner in every other respect; the tools build it for
    configs without ``runner_type``.
    """

    def build_logger(self,
                     log_level: Union[int, str] = 'INFO',
                     log_file: Optional[str] = None,
                     **kwargs) -> MMLogger:
        """mmengine's logger, with :class:`DetailFilter` below DEBUG."""
        logger = super().build_logger(log_level, log_file, **kwargs)
        level = logging.getLevelName(log_level) if isinstance(
            log_level, str) else log_level
        if level > logging.DEBUG and not any(
                isinstance(f, DetailFilter) for f in logger.filters):
            logger.addFilter(DetailFilter())
        return logger
