"""Two- and k-sample tests and the chi-square test of independence (scipy.stats underneath).

- `welch_t`: Welch's unequal-variance t-test of mean(a) - mean(b), with its confidence interval.
- `anova_oneway`: one-way ANOVA F-test across groups (df = k - 1, N - k).
- `mann_whitney`: Mann–Whitney U (two-sided, scipy's method choice); estimate U / (n_a·n_b), the
  probability that a value of a exceeds one of b (ties half).
- `chi2_independence`: Pearson chi-square on an r×c table (Yates' correction on 2×2, as scipy); estimate
  Cramér's V.

>>> round(welch_t([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0, 6.0]).estimate, 3)
-1.5
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from engine.algorithms.stats._common import TestResult, check_confidence, is_constant, sample
from engine.algorithms.stats.registry import STAT_TESTS, KSample, Table, TwoSample

NAN = float("nan")


def welch_t(a: ArrayLike, b: ArrayLike, confidence: float = 0.95) -> TestResult:
    check_confidence(confidence)
    x, y = sample(a, "a", min_n=2), sample(b, "b", min_n=2)
    diff = float(x.mean() - y.mean())
    if is_constant(x) and is_constant(y):
        return TestResult(
            "welch_t",
            NAN,
            NAN,
            x.size + y.size,
            diff,
            confidence=confidence,
            details={"undefined": "both samples are constant"},
        )
    res = stats.ttest_ind(x, y, equal_var=False)
    ci = res.confidence_interval(confidence)
    return TestResult(
        "welch_t",
        float(res.statistic),
        float(res.pvalue),
        x.size + y.size,
        diff,
        float(ci.low),
        float(ci.high),
        confidence,
        float(res.df),
    )


def anova_oneway(groups: Sequence[ArrayLike]) -> TestResult:
    if len(groups) < 2:
        raise ValueError(f"anova needs at least 2 groups, got {len(groups)}")
    arrays = [sample(g, f"group {i}") for i, g in enumerate(groups)]
    n, k = sum(a.size for a in arrays), len(arrays)
    if n <= k:
        raise ValueError(f"anova needs more values ({n}) than groups ({k})")
    df = {"df_between": k - 1, "df_within": n - k}
    if all(is_constant(a) for a in arrays):
        return TestResult("anova_oneway", NAN, NAN, n, details={"undefined": "every group is constant", **df})
    res = stats.f_oneway(*arrays)
    return TestResult("anova_oneway", float(res.statistic), float(res.pvalue), n, df=float(k - 1), details=df)


def mann_whitney(a: ArrayLike, b: ArrayLike) -> TestResult:
    x, y = sample(a, "a"), sample(b, "b")
    if is_constant(np.concatenate([x, y])):
        return TestResult(
            "mann_whitney",
            x.size * y.size / 2.0,
            1.0,
            x.size + y.size,
            0.5,
            details={"note": "all values equal: no evidence of a difference"},
        )
    res = stats.mannwhitneyu(x, y, alternative="two-sided")
    u = float(res.statistic)
    return TestResult("mann_whitney", u, float(res.pvalue), x.size + y.size, u / (x.size * y.size))


def chi2_independence(table: ArrayLike) -> TestResult:
    t = np.asarray(table)
    if t.ndim != 2 or t.shape[0] < 2 or t.shape[1] < 2:
        raise ValueError(f"contingency table must be at least 2x2, got shape {t.shape}")
    if t.dtype.kind not in "biuf" or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("contingency table must hold finite non-negative counts")
    if np.any(t.sum(axis=0) == 0) or np.any(t.sum(axis=1) == 0):
        raise ValueError("contingency table has an all-zero row or column; drop it first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.chi2_contingency(t)
    n = float(t.sum())
    v = float(np.sqrt(res.statistic / (n * (min(t.shape) - 1))))
    return TestResult(
        "chi2_independence",
        float(res.statistic),
        float(res.pvalue),
        int(n),
        v,
        df=float(res.dof),
        details={"effect": "cramers_v", "min_expected": float(res.expected_freq.min())},
    )


STAT_TESTS.add("welch_t", TwoSample(welch_t))
STAT_TESTS.add("anova_oneway", KSample(anova_oneway))
STAT_TESTS.add("mann_whitney", TwoSample(mann_whitney))
STAT_TESTS.add("chi2_independence", Table(chi2_independence))
