"""Peak RSS of repeated phases in one process, and timing summaries."""
import numpy as np
import pytest

from benchmarks.lib.peak_memory import MB, PeakMemorySampler
from benchmarks.lib.statistics import (median_pair_ratio, ratio_of_medians,
                                       summarize)


def _allocate(megabytes):
    block = np.ones(int(megabytes * MB), dtype=np.uint8)  # touched pages
    return int(block[::4096].sum())


def test_phases_measure_their_own_peak():
    with PeakMemorySampler(interval=0.001) as sampler:
        with sampler.phase() as big:
            _allocate(64)
        with sampler.phase() as small:
            _allocate(1)
    assert big.growth >= 48 * MB
    assert small.growth < big.growth / 2  # the big phase's peak is gone
    assert big.peak_rss >= big.start_rss > 0
    assert big.cuda_peak is None


def test_summaries():
    out = summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert out['median_s'] == 3.0 and out['min_s'] == 1.0
    assert out['q1_s'] == 2.0 and out['q3_s'] == 4.0 and out['iqr_s'] == 2.0
    assert ratio_of_medians([2.0, 4.0, 6.0], [1.0, 2.0, 4.0]) == 2.0
    assert median_pair_ratio([2.0, 4.0, 6.0], [1.0, 1.0, 4.0]) == 2.0
    with pytest.raises(ValueError, match='not paired'):
        median_pair_ratio([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        summarize([])
