"""Run the tools as subprocesses with a time limit.

Every process a test starts goes through here: it runs in its own process
group (a ``torchrun`` launch and its workers, a tool and its children), and
when the time limit passes, or the test itself is stopped (pytest-timeout,
Ctrl-C), the whole group is killed and the test fails naming the command,
the limit and the last lines of its output. A hang gives a verdict instead
of stalling the suite.
"""
import os
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import pytest

# Seconds one tool run may take on 2 busy CPU cores (a short training or
# labelling run of the tests takes well under a minute alone).
TOOL_TIMEOUT = 600
# What a failure report shows of a run's output.
TAIL_CHARS = 5000


def tool_env(repo_root: str, **extra: str) -> Dict[str, str]:
    """The environment of a tool run: this checkout first on the path.

    Args:
        repo_root (str): The repository whose code the tool must import.
        **extra (str): Further variables, e.g. ``OMP_NUM_THREADS='1'``.

    Returns:
        dict[str, str]: A copy of ``os.environ`` with ``PYTHONPATH`` set.
    """
    path = os.environ.get('PYTHONPATH')
    pythonpath = repo_root if not path else os.pathsep.join(
        [repo_root, path])
    return dict(os.environ, PYTHONPATH=pythonpath, **extra)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s process group (it was started in its own session)
    and reap ``proc``."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _command(cmd: Sequence[str]) -> str:
    return ' '.join(cmd[:6]) + (' ...' if len(cmd) > 6 else '')


def run(cmd: Sequence[str],
        *,
        cwd: str,
        timeout: float = TOOL_TIMEOUT,
        env: Optional[Dict[str, str]] = None,
        stdin_devnull: bool = True) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True)`` with a limit.

    Args:
        cmd (Sequence[str]): The command, e.g. ``[sys.executable, 'tools/
            train.py', ...]``.
        cwd (str): Working directory (the repository root).
        timeout (float): Seconds before the run's process group is killed
            and the test fails.
        env (dict, optional): Environment; ``os.environ`` when None.
        stdin_devnull (bool): Give the run an empty stdin.

    Returns:
        subprocess.CompletedProcess: With ``returncode``, ``stdout`` and
        ``stderr`` (text).
    """
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL if stdin_devnull else None,
        start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        pytest.fail(
            f'{_command(cmd)} did not finish within {timeout:g} s and was '
            f'killed; its output ended with:\n{(out or "")[-TAIL_CHARS:]}\n'
            f'{(err or "")[-TAIL_CHARS:]}', pytrace=False)
    except BaseException:
        # the test was stopped (pytest-timeout, Ctrl-C): no orphans
        kill_group(proc)
        raise
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def run_python(args: Sequence[str], *, repo_root: str,
               timeout: float = TOOL_TIMEOUT,
               env: Optional[Dict[str, str]] = None
               ) -> subprocess.CompletedProcess:
    """:func:`run` of ``python ARGS`` in ``repo_root`` with this checkout
    on ``PYTHONPATH`` (``env`` defaults to :func:`tool_env`)."""
    return run([sys.executable, *args], cwd=repo_root, timeout=timeout,
               env=env if env is not None else tool_env(repo_root))


def torchrun(nproc: int = 2) -> List[str]:
    """The arguments of ``python -m torch.distributed.run`` for ``nproc``
    local processes.

    ``--standalone`` lets the launcher's rendezvous store bind port 0 and
    hands that port to the workers, so no test picks a "free" port that
    another process can take before it is bound.
    """
    return ['-m', 'torch.distributed.run', '--standalone',
            f'--nproc_per_node={nproc}']


def start(cmd: Sequence[str], *, cwd: str, env: Optional[Dict[str, str]],
          log_path: Optional[str] = None) -> subprocess.Popen:
    """Start ``cmd`` in its own process group, its output going to
    ``log_path`` (or nowhere)."""
    if log_path is None:
        return subprocess.Popen(list(cmd), cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True)
    with open(log_path, 'w') as log:
        return subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True)


def wait_for(condition, proc: subprocess.Popen, timeout: float,
             what: str) -> None:
    """Poll ``condition()`` until it holds; fail (killing ``proc``'s group)
    when ``proc`` ends first or ``timeout`` seconds pass.

    Args:
        condition (Callable[[], bool]): What to wait for (a file, a line).
        proc (subprocess.Popen): The run that should make it true.
        timeout (float): Seconds.
        what (str): What is awaited, for the failure message.
    """
    deadline = time.monotonic() + timeout
    try:
        while not condition():
            if proc.poll() is not None:
                pytest.fail(f'the run ended (exit {proc.returncode}) before '
                            f'{what}', pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f'no {what} within {timeout:g} s', pytrace=False)
            time.sleep(0.01)
    except BaseException:
        kill_group(proc)
        raise


def finish(proc: subprocess.Popen, timeout: float = TOOL_TIMEOUT) -> int:
    """Wait for a started run; kill its group and fail after ``timeout``.

    Returns:
        int: The exit status.
    """
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        pytest.fail(f'{_command(proc.args)} did not finish within '
                    f'{timeout:g} s and was killed', pytrace=False)
    except BaseException:
        kill_group(proc)
        raise


def output_files(root: str) -> Dict[str, bytes]:
    """Relative path -> content of every file under ``root``, except the
    hidden ``.<name>.<random>.tmp`` files of atomic writes (a process
    killed while writing one leaves it behind, never a file cut short under
    its final name)."""
    files = {}
    for directory, _, names in os.walk(root):
        for name in names:
            if name.startswith('.') and name.endswith('.tmp'):
                continue
            path = os.path.join(directory, name)
            with open(path, 'rb') as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


def kill_midway(proc: subprocess.Popen, count, at_least: int, total: int,
                what: str) -> int:
    """SIGKILL ``proc``'s group once ``count()`` reaches ``at_least``, and
    check that the kill landed midway: ``at_least <= count() < total``.

    Args:
        proc (subprocess.Popen): A run started with :func:`start`.
        count (Callable[[], int]): How many outputs the run has written.
        at_least (int): Kill once this many exist.
        total (int): How many a finished run writes.
        what (str): What is counted, for messages.

    Returns:
        int: ``count()`` after the kill.
    """
    wait_for(lambda: count() >= at_least, proc, TOOL_TIMEOUT,
             f'{at_least} {what}')
    kill_group(proc)
    done = count()
    assert at_least <= done < total, \
        f'not killed midway ({done}/{total} {what})'
    return done
