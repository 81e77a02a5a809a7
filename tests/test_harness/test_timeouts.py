"""The harness itself: a hang ends in a failure with a clear report, within
its time limit, and leaves no process behind; tests do not share state."""
import os.path as osp
import sys
import time

import pytest
from mmengine.logging import MessageHub

from tests.tool_runs import run, tool_env

# A process that starts a child, writes the child's pid, and both sleep:
# a stand-in for a hung torchrun launch and its worker.
SLEEPER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, '-c',
                          'import time; time.sleep(600)'])
with open(sys.argv[1], 'w') as f:
    f.write(str(child.pid))
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def _assert_ends(pid_file: str, within: float = 30) -> None:
    with open(pid_file) as f:
        pid = int(f.read())
    deadline = time.monotonic() + within
    while _alive(pid):
        assert time.monotonic() < deadline, f'process {pid} survived'
        time.sleep(0.1)


def _pytest(repo_root, test_file, limit):
    """Run pytest on one file with a per-test timeout of ``limit`` s."""
    start = time.monotonic()
    proc = run([sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider',
                '-q', f'--timeout={limit}', osp.basename(test_file)],
               cwd=osp.dirname(test_file), timeout=120,
               env=tool_env(repo_root))
    return proc, time.monotonic() - start


def test_the_suite_runs_under_a_per_test_timeout(pytestconfig):
    assert pytestconfig.pluginmanager.hasplugin('timeout'), \
        'pytest-timeout is not installed: pip install -e .[tests]'
    # generous for the slowest end-to-end test, finite for a hang
    assert 600 <= float(pytestconfig.getini('timeout')) <= 3600


@pytest.mark.slow
def test_a_hanging_test_fails_within_its_timeout(repo_root, tmp_path):
    test_file = tmp_path / 'test_hangs.py'
    test_file.write_text('import time\n\n\ndef test_hangs():\n'
                         '    time.sleep(3600)\n')
    proc, seconds = _pytest(repo_root, str(test_file), 3)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert 'Timeout (>3.0s) from pytest-timeout' in out, out
    assert 'FAILED test_hangs.py::test_hangs' in out, out
    # the traceback shows where it hung
    assert 'time.sleep(3600)' in out, out
    assert seconds < 60


@pytest.mark.slow
def test_a_hanging_tool_run_is_killed_with_its_children(tmp_path):
    pid_file = str(tmp_path / 'child.pid')
    start = time.monotonic()
    with pytest.raises(pytest.fail.Exception,
                       match=r'did not finish within 3 s and was killed'):
        run([sys.executable, '-c', SLEEPER, pid_file], cwd=str(tmp_path),
            timeout=3)
    assert time.monotonic() - start < 30
    _assert_ends(pid_file)


@pytest.mark.slow
def test_the_per_test_timeout_also_kills_a_running_tool(repo_root,
                                                        tmp_path):
    pid_file = str(tmp_path / 'child.pid')
    test_file = tmp_path / 'test_hung_tool.py'
    test_file.write_text(
        'import sys\n\nfrom tests.tool_runs import run\n'
        f'from tests.test_harness.test_timeouts import SLEEPER\n\n\n'
        'def test_hung_tool():\n'
        f'    run([sys.executable, "-c", SLEEPER, {pid_file!r}], cwd="."'
        ', timeout=600)\n')
    proc, seconds = _pytest(repo_root, str(test_file), 5)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert 'Timeout (>5.0s) from pytest-timeout' in out, out
    assert seconds < 60
    _assert_ends(pid_file)  # no orphaned worker


def test_runtime_info_written_by_one_test():
    MessageHub.get_current_instance().update_info('iter', 6)
    MessageHub.get_current_instance().update_info('harness_probe', 1)


def test_does_not_reach_the_next():
    hub = MessageHub.get_current_instance()
    assert hub.get_info('iter') is None
    assert hub.get_info('harness_probe') is None
