"""DetailFilter: what the default log keeps of mmengine's environment dump."""
import logging

from mmseg_uda.utils.quiet_runner import DetailFilter

DASH = '-' * 60
ENV = (f'\n{DASH}\nSystem environment:\n    sys.platform: linux\n    CUDA available: False\n\n'
       'Runtime environment:\n    cudnn_benchmark: False\n    seed: 0\n    Distributed launcher: pytorch\n'
       f'    Distributed training: True\n    GPU number: 2\n{DASH}\n')


def _record(msg: str) -> logging.LogRecord:
    return logging.LogRecord('mmengine', logging.INFO, __file__, 1, msg, (), None)


def test_environment_dump_becomes_one_runtime_line():
    record = _record(ENV)
    assert DetailFilter().filter(record)
    assert record.getMessage() == ('Runtime environment: cudnn_benchmark: False, seed: 0, Distributed launcher: '
                                   'pytorch, Distributed training: True, GPU number: 2')


def test_config_dump_and_hook_table_are_dropped():
    assert not DetailFilter().filter(_record('Config:\nmodel = dict()'))
    assert not DetailFilter().filter(_record('Hooks will be executed in the following order:\n...'))
    assert DetailFilter().filter(_record('Iter(train) [1/2]'))
