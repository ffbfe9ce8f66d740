"""Correlation with p-values, and simple linear regression (scipy.stats underneath).

Pearson's r comes with its Fisher-z confidence interval; Spearman's rho and Kendall's tau-b with their
p-values. Inputs are paired, at least 3 pairs; a constant x or y makes a correlation undefined (NaN,
with a reason). `linear_regression` fits y = intercept + slope·x by least squares and reports r², the
p-value of slope = 0, the slope's standard error and t-based confidence interval; it needs a
non-constant x.

>>> round(linear_regression([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 7.0]).estimate, 6)
2.0
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from engine.algorithms.stats._common import TestResult, check_confidence, is_constant, sample
from engine.algorithms.stats.registry import STAT_TESTS, Paired

NAN = float("nan")


def _pairs(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a, b = sample(x, "x", min_n=3), sample(y, "y", min_n=3)
    if a.size != b.size:
        raise ValueError(f"x and y must pair up: {a.size} vs {b.size} values")
    return a, b


def _undefined(test: str, n: int) -> TestResult:
    return TestResult(test, NAN, NAN, n, NAN, details={"undefined": "x or y is constant"})


def pearson(x: ArrayLike, y: ArrayLike, confidence: float = 0.95) -> TestResult:
    check_confidence(confidence)
    a, b = _pairs(x, y)
    if is_constant(a) or is_constant(b):
        return _undefined("pearson", a.size)
    res = stats.pearsonr(a, b)
    r = float(res.statistic)
    if a.size > 3:
        ci = res.confidence_interval(confidence)
        low, high = float(ci.low), float(ci.high)
    else:
        low, high = NAN, NAN  # Fisher z needs n > 3
    return TestResult("pearson", r, float(res.pvalue), a.size, r, low, high, confidence, float(a.size - 2))


def _rank_correlation(name: str, fn: Callable[..., object]) -> Callable[[ArrayLike, ArrayLike], TestResult]:
    def compute(x: ArrayLike, y: ArrayLike) -> TestResult:
        a, b = _pairs(x, y)
        if is_constant(a) or is_constant(b):
            return _undefined(name, a.size)
        res = fn(a, b)
        value = float(res.statistic)  # type: ignore[attr-defined]
        return TestResult(name, value, float(res.pvalue), a.size, value)  # type: ignore[attr-defined]

    compute.__name__ = name
    return compute


spearman = _rank_correlation("spearman", stats.spearmanr)
kendall = _rank_correlation("kendall", stats.kendalltau)


def linear_regression(x: ArrayLike, y: ArrayLike, confidence: float = 0.95) -> TestResult:
    check_confidence(confidence)
    a, b = _pairs(x, y)
    if is_constant(a):
        raise ValueError("linear regression needs a non-constant x")
    res = stats.linregress(a, b)
    df = a.size - 2
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df) * res.stderr)
    slope = float(res.slope)
    return TestResult(
        "linear_regression",
        slope / res.stderr if res.stderr > 0 else np.copysign(np.inf, slope) if slope else NAN,
        float(res.pvalue),
        a.size,
        slope,
        slope - half,
        slope + half,
        confidence,
        float(df),
        details={
            "intercept": float(res.intercept),
            "r2": float(res.rvalue**2),
            "stderr": float(res.stderr),
            "intercept_stderr": float(res.intercept_stderr),
        },
    )


STAT_TESTS.add("pearson", Paired(pearson))
STAT_TESTS.add("spearman", Paired(spearman))
STAT_TESTS.add("kendall", Paired(kendall))
STAT_TESTS.add("linear_regression", Paired(linear_regression))
