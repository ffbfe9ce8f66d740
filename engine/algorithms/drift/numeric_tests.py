"""Two-sample hypothesis tests on numeric features: Kolmogorov–Smirnov, Anderson–Darling, Cramér–von Mises.

On raw samples AD and CvM are scipy's implementations, unchanged; KS is `ecdf.compare_ecdfs`, equal
to ``scipy.stats.ks_2samp`` (statistic and p-value) but sharing its sort with Wasserstein. KS also works from binned counts: the two
empirical CDFs are compared at the bin edges only, which gives a lower bound ``D_binned`` of the raw
statistic with ``0 <= D_raw - D_binned <= max_b max(p_ref[b], p_cur[b])`` (within one bin each CDF
rises by at most that bin's mass), reported as ``details["approximation_bound"]``. Its p-value is the
asymptotic Kolmogorov distribution at ``D_binned`` with ``n·m/(n+m)`` (scipy's ``asymp`` method), so it
is conservative (never smaller than the raw-sample p-value's asymptotic counterpart).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from engine.algorithms.drift.binning import NumericInput, binned_pair, is_binned, proportions
from engine.algorithms.drift.ecdf import compare_ecdfs
from engine.algorithms.drift.method import Statistic, register
from engine.algorithms.drift.samples import binned_details, raw_pair, single_distinct_value

ALPHA = 0.05


@register("ks", "numeric", "test", ALPHA, accepts_binned=True)
def ks(reference: NumericInput, current: NumericInput) -> Statistic:
    """Two-sample Kolmogorov–Smirnov test (raw: scipy ks_2samp; binned: ECDFs at the bin edges)."""
    if not is_binned(reference, current):
        ref, cur, details = raw_pair(reference, current, "ks")
        cmp = compare_ecdfs(ref, cur)
        return Statistic(cmp.ks_statistic, cmp.ks_p_value, details)
    ref_b, cur_b = binned_pair(reference, current)
    details = binned_details(ref_b, cur_b)
    p_ref, p_cur = proportions(ref_b.counts), proportions(cur_b.counts)
    d = float(np.max(np.abs(np.cumsum(p_ref)[:-1] - np.cumsum(p_cur)[:-1])))
    n, m = ref_b.total, cur_b.total
    p_value = float(stats.kstwo.sf(d, round(n * m / (n + m))))
    details["approximation_bound"] = float(np.max(np.maximum(p_ref, p_cur)))
    details["from_bins"] = True
    return Statistic(d, min(max(p_value, 0.0), 1.0), details)


@register("anderson_darling", "numeric", "test", ALPHA, accepts_binned=False)
def anderson_darling(reference: NumericInput, current: NumericInput) -> Statistic:
    """Anderson–Darling k-sample test (scipy anderson_ksamp, midrank variant; p-value capped to [0.001, 0.25])."""
    ref, cur, details = raw_pair(reference, current, "anderson_darling")
    if single_distinct_value(ref, cur):
        details["note"] = "both samples are the same single value"
        return Statistic(0.0, 1.0, details)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns whenever it caps the p-value
        res = stats.anderson_ksamp([ref, cur], variant="midrank")
    return Statistic(float(res.statistic), float(res.pvalue), details)


@register("cramer_von_mises", "numeric", "test", ALPHA, accepts_binned=False)
def cramer_von_mises(reference: NumericInput, current: NumericInput) -> Statistic:
    """Two-sample Cramér–von Mises test (scipy cramervonmises_2samp)."""
    ref, cur, details = raw_pair(reference, current, "cramer_von_mises")
    if min(ref.size, cur.size) < 2:
        raise ValueError("cramer_von_mises needs at least two present values on each side")
    if single_distinct_value(ref, cur):
        details["note"] = "both samples are the same single value"
        return Statistic(0.0, 1.0, details)
    res = stats.cramervonmises_2samp(ref, cur)
    return Statistic(float(res.statistic), float(min(max(res.pvalue, 0.0), 1.0)), details)
