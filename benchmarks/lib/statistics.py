"""Robust summaries of repeated timings."""
from typing import Dict, Sequence

import numpy as np


def summarize(seconds: Sequence[float]) -> Dict[str, float]:
    """Median, quartiles, min and max of timings in seconds.

    Args:
        seconds (Sequence[float]): At least one timing.

    Returns:
        dict[str, float]: ``median_s``, ``q1_s``, ``q3_s``, ``iqr_s``,
        ``min_s``, ``max_s``.
    """
    if len(seconds) == 0:
        raise ValueError('no timings to summarize')
    values = np.asarray(seconds, dtype=np.float64)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return dict(median_s=float(median), q1_s=float(q1), q3_s=float(q3),
                iqr_s=float(q3 - q1), min_s=float(values.min()),
                max_s=float(values.max()))


def ratio_of_medians(ours: Sequence[float],
                     plain: Sequence[float]) -> float:
    """``median(ours) / median(plain)``."""
    return float(np.median(ours) / np.median(plain))


def median_pair_ratio(ours: Sequence[float],
                      plain: Sequence[float]) -> float:
    """Median over iterations of ``ours[i] / plain[i]``."""
    if len(ours) != len(plain):
        raise ValueError(f'{len(ours)} vs {len(plain)} timings: not paired')
    return float(np.median(np.asarray(ours) / np.asarray(plain)))
