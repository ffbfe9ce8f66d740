"""Kolmogorov–Smirnov and Wasserstein-1 from one pass over the two sorted samples.

Both statistics compare the two empirical CDFs at every distinct pooled value, so they share the
expensive part (sorting). Each sample is sorted on its own, the two sorted runs are merged with a
stable argsort (a linear merge for timsort), and the CDFs are read at the last position of every
group of tied values (``side="right"`` semantics, as scipy). The values equal
``scipy.stats.ks_2samp`` (statistic; p-value by the same rule: exact when both samples have at most
10 000 values — delegated to scipy — else the asymptotic Kolmogorov distribution with ``n·m/(n+m)``)
and ``scipy.stats.wasserstein_distance`` up to floating-point summation order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from engine.algorithms.drift.binning import FloatArray

EXACT_KS_MAX_N = 10_000  # scipy's ks_2samp(method="auto") switch


@dataclass(frozen=True, slots=True)
class EcdfComparison:
    ks_statistic: float
    ks_p_value: float
    wasserstein: float


def compare_ecdfs(reference: FloatArray, current: FloatArray) -> EcdfComparison:
    """KS statistic and p-value and Wasserstein-1 distance of two non-empty finite samples."""
    n, m = reference.size, current.size
    pooled = np.concatenate([np.sort(reference), np.sort(current)])
    order = np.argsort(pooled, kind="stable")
    values = pooled[order]
    ref_seen = np.cumsum(order < n)
    ends = np.flatnonzero(values[1:] != values[:-1])
    ends = np.append(ends, values.size - 1)
    cdf_diff = ref_seen[ends] / n - (ends + 1 - ref_seen[ends]) / m
    d = float(np.max(np.abs(cdf_diff)))
    wasserstein = float(np.sum(np.abs(cdf_diff[:-1]) * np.diff(values[ends])))
    if max(n, m) <= EXACT_KS_MAX_N:
        p_value = float(stats.ks_2samp(reference, current).pvalue)
    else:
        p_value = float(np.clip(stats.kstwo.sf(d, np.round(n * m / (n + m))), 0.0, 1.0))
    return EcdfComparison(d, p_value, wasserstein)
