"""Peak memory of a phase: process RSS sampled in a background thread, and
``torch.cuda.max_memory_allocated`` on CUDA."""
import threading
from typing import Optional

import psutil
import torch

MB = float(1 << 20)


class PeakMemorySampler:
    """Sample the process RSS in a background thread; measure phases.

    One sampler runs for a whole benchmark; :meth:`phase` opens a
    measurement, so the peak of many phases (e.g. alternating steps of two
    implementations) is measured repeatedly in one process. RSS is read at
    the start and end of each phase too, so a phase shorter than the
    sampling interval still gets a value.

    Args:
        interval (float): Seconds between samples. Defaults to 0.005.
        device (torch.device | str, optional): With a CUDA device, phases
            also report ``torch.cuda.max_memory_allocated`` (the peak is reset
            at the start of each phase).
    """

    def __init__(self, interval: float = 0.005,
                 device: Optional[torch.device] = None) -> None:
        if interval <= 0:
            raise ValueError(f'interval must be positive, got {interval}')
        self.interval = interval
        self.cuda = device is not None and torch.device(device).type == 'cuda'
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._peak = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def rss(self) -> int:
        """The current RSS of this process, in bytes."""
        return self._process.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            value = self.rss()
            with self._lock:
                if value > self._peak:
                    self._peak = value

    def __enter__(self) -> 'PeakMemorySampler':
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._sample, name='rss-sampler', daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def phase(self) -> 'MemoryPhase':
        """A context manager measuring the peak of the enclosed code."""
        return MemoryPhase(self)

    def _reset(self) -> int:
        value = self.rss()
        with self._lock:
            self._peak = value
        return value

    def _read(self) -> int:
        value = self.rss()
        with self._lock:
            self._peak = max(self._peak, value)
            return self._peak


class MemoryPhase:
    """One measured phase of a :class:`PeakMemorySampler`.

    After the ``with`` block: ``start_rss`` (bytes at entry), ``peak_rss``
    (highest RSS seen), ``growth`` (``peak_rss - start_rss``) and, on CUDA,
    ``cuda_peak`` (``max_memory_allocated`` during the phase, else None).
    """

    def __init__(self, sampler: PeakMemorySampler) -> None:
        self.sampler = sampler
        self.start_rss = 0
        self.peak_rss = 0
        self.cuda_peak: Optional[int] = None

    @property
    def growth(self) -> int:
        """RSS growth of the phase over its start, in bytes."""
        return max(0, self.peak_rss - self.start_rss)

    def __enter__(self) -> 'MemoryPhase':
        if self.sampler.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.start_rss = self.sampler._reset()
        return self

    def __exit__(self, *exc) -> None:
        if self.sampler.cuda:
            torch.cuda.synchronize()
            self.cuda_peak = torch.cuda.max_memory_allocated()
        self.peak_rss = self.sampler._read()
