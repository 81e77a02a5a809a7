"""Launchers as a launched process sees them, on a CPU machine: a GPU
machine (torchrun) and a Slurm job's `scontrol`."""
import os
import stat
from contextlib import contextmanager
from typing import Iterator, List

import torch
import torch.distributed as torch_dist

from mmseg_uda.utils import tool_config


@contextmanager
def gpu_launch(monkeypatch, rank: int = 1,
               world_size: int = 2) -> Iterator[List[tuple]]:
    """torchrun's variables are set, ``torch.cuda.is_available()`` says True (``device_count()`` says
    ``world_size``) and mmengine's ``init_dist``
    (as the tools call it) is replaced by one that records its arguments
    and joins ``rank`` of a ``world_size`` group of torch's in-process fake
    backend (collectives do nothing, no other process is needed).

    Yields:
        list[tuple]: The ``(launcher, kwargs)`` of every ``init_dist`` call.
    """
    from torch.testing._internal.distributed.fake_pg import FakeStore
    calls = []

    def init_dist(launcher, **kwargs):
        calls.append((launcher, kwargs))
        torch_dist.init_process_group('fake', rank=rank,
                                      world_size=world_size,
                                      store=FakeStore())

    # the variables torchrun sets for each process
    for key, value in dict(RANK=rank, LOCAL_RANK=rank, WORLD_SIZE=world_size,
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=29500).items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: world_size)
    monkeypatch.setattr(tool_config, 'init_dist', init_dist)
    try:
        yield calls
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def fake_scontrol(bin_dir: str, first_host: str = '127.0.0.1') -> str:
    """Write an ``scontrol`` into ``bin_dir`` that expands any node list to
    ``first_host`` and a second host; returns ``bin_dir``."""
    path = os.path.join(bin_dir, 'scontrol')
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n'
                '[ "$1 $2" = "show hostname" ] || exit 2\n'
                f'echo {first_host}\necho node-b\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return bin_dir
