"""Trend: linear trend vs statsmodels OLS; Mann–Kendall vs an O(n²) numpy implementation written here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from engine.algorithms.trend import TREND_METHODS, assess_trend, linear_trend, mann_kendall

TOL = 1e-9


def mk_oracle(x: np.ndarray) -> dict[str, float]:
    """Textbook Mann–Kendall, straight from the definitions."""
    n = x.size
    s = sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n))
    _, t = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - np.sum(t * (t - 1) * (2 * t + 5))) / 18
    z = 0.0 if s == 0 else (s - np.sign(s)) / np.sqrt(var)
    slopes = [(x[j] - x[i]) / (j - i) for i in range(n) for j in range(i + 1, n)]
    return {
        "s": s,
        "var": var,
        "z": z,
        "p": 2 * (1 - stats.norm.cdf(abs(z))),
        "sen": float(np.median(slopes)),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_mann_kendall_matches_oracle(seed: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    x = 0.02 * np.arange(60) + rng.normal(0, 0.3, 60)
    if ties:
        x = np.round(x, 1)
    got, want = mann_kendall(x), mk_oracle(x)
    assert got.details["s"] == want["s"]
    assert got.details["var_s"] == pytest.approx(want["var"], rel=TOL)
    assert got.statistic == pytest.approx(want["z"], abs=TOL)
    assert got.p_value == pytest.approx(want["p"], abs=TOL)
    assert got.slope == pytest.approx(want["sen"], abs=TOL)
    # tau-b from scipy is S normalised by the tie-corrected pair count
    n0 = 60 * 59 / 2
    _, t = np.unique(x, return_counts=True)
    tau_b = stats.kendalltau(np.arange(60), x).statistic
    assert tau_b == pytest.approx(want["s"] / np.sqrt(n0 * (n0 - np.sum(t * (t - 1) / 2))), abs=TOL)
    sen = stats.theilslopes(x, np.arange(60))
    assert (got.ci_low, got.ci_high) == pytest.approx((sen.low_slope, sen.high_slope), abs=TOL)


def test_linear_trend_matches_statsmodels() -> None:
    rng = np.random.default_rng(5)
    t = np.cumsum(rng.uniform(0.5, 2.0, 40))
    x = 0.8 - 0.003 * t + rng.normal(0, 0.01, 40)
    got = linear_trend(x, t)
    ols = sm.OLS(x, sm.add_constant(t)).fit()
    low, high = ols.conf_int(0.05)[1]
    assert got.slope == pytest.approx(ols.params[1], abs=TOL)
    assert got.p_value == pytest.approx(ols.pvalues[1], abs=TOL)
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=TOL)


@pytest.mark.parametrize("method", TREND_METHODS.names())
def test_directions(method: str) -> None:
    rng = np.random.default_rng(8)
    rising = 0.7 + 0.01 * np.arange(30) + rng.normal(0, 0.01, 30)
    flat = 0.7 + rng.normal(0, 0.01, 30)
    assert assess_trend(rising, higher_is_better=True, method=method).direction == "improving"
    assert assess_trend(rising, higher_is_better=False, method=method).direction == "degrading"
    assert assess_trend(flat, higher_is_better=True, method=method).direction == "stable"
    assert assess_trend(rising, higher_is_better=True, method=method, min_slope=1.0).direction == "stable"
    short = assess_trend(rising[:5], higher_is_better=True, method=method)
    assert short.direction == "insufficient_data"
    json.dumps(short.to_dict())


def test_nan_points_are_dropped_and_counted_by_assess_only() -> None:
    x = np.r_[np.linspace(1, 0, 12), np.nan]
    res = assess_trend(x, higher_is_better=True)
    assert res.n == 12 and res.details["n_missing"] == 1 and res.direction == "degrading"
    with pytest.raises(ValueError, match="NaN"):
        mann_kendall(x)


def test_constant_and_bad_inputs() -> None:
    for fn in (linear_trend, mann_kendall):
        res = fn(np.full(10, 0.5))
        assert res.slope == 0.0 and res.p_value == 1.0
        with pytest.raises(ValueError):
            fn([1.0, 2.0])
        with pytest.raises(ValueError, match="increasing"):
            fn([1.0, 2.0, 3.0], [0.0, 2.0, 1.0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=3, max_size=25))
def test_mann_kendall_s_property(values: list[int]) -> None:
    x = np.array(values, dtype=float)
    got, want = mann_kendall(x), mk_oracle(x)
    assert got.details["s"] == want["s"]
    assert 0.0 <= got.p_value <= 1.0
    assert got.statistic == pytest.approx(want["z"], abs=1e-9)


def test_theil_sen_equals_scipy_theilslopes_to_the_bit() -> None:
    """The partition-based Sen slope (used by `mann_kendall`) against scipy.stats.theilslopes on seeded
    series: increasing and unordered times (with repeats), continuous values, heavy ties, near-constant
    series, several confidence levels — every field equal, NaN where scipy gives NaN."""
    import warnings

    from engine.algorithms.trend import theil_sen

    rng = np.random.default_rng(20261128)
    for case in range(600):
        n = int(rng.integers(2, 90)) if case % 10 else int(rng.integers(300, 800))
        t = np.cumsum(rng.random(n) + 1e-3)
        if case % 7 == 0:
            t = np.round(rng.random(n) * 5)  # unordered, repeated times: the general (matrix) path
        kind = case % 4
        y = (rng.normal(size=n) if kind == 0 else np.round(rng.random(n), 1) if kind == 1
             else rng.integers(0, 3, n).astype(float) if kind == 2 else np.full(n, 0.5))
        if kind == 3:
            y[rng.integers(0, n)] = 0.6
        confidence = (0.95, 0.9, 0.99, 0.5, 0.3, 0.999999)[case % 6]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = stats.theilslopes(y, t, alpha=confidence)
            got = theil_sen(y, t, confidence)
        for a, b in zip((ref.slope, ref.intercept, ref.low_slope, ref.high_slope), got, strict=True):
            assert (np.isnan(a) and np.isnan(b)) or float(a) == b, (case, n, confidence)
