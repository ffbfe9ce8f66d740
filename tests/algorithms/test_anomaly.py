"""Anomaly detectors against numpy / scipy / statsmodels / scikit-learn computed here."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import median_abs_deviation
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from statsmodels.tsa.seasonal import seasonal_decompose

from engine.algorithms.anomaly import ANOMALY_DETECTORS, detect
from engine.algorithms.anomaly.ewma import EWMAParams
from engine.algorithms.anomaly.multivariate import IsolationForestParams, LOFParams
from engine.algorithms.anomaly.seasonal import SeasonalParams, detect_period
from engine.algorithms.anomaly.univariate import IQRParams, MADParams, RollingZScoreParams
from engine.algorithms.registry import UnknownMethodError

TOL = 1e-9


def _spiky(seed: int, n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(50.0, 4.0, n)
    spikes = rng.choice(n, 6, replace=False)
    x[spikes] += rng.choice([-1.0, 1.0], 6) * rng.uniform(20, 40, 6)
    return x


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("multiplier", [1.5, 3.0])
def test_iqr_matches_numpy_percentiles(seed: int, multiplier: float) -> None:
    x = _spiky(seed)
    q1, q3 = np.percentile(x, [25, 75])
    lo, hi = q1 - multiplier * (q3 - q1), q3 + multiplier * (q3 - q1)
    result = detect("iqr", x, IQRParams(multiplier=multiplier))
    np.testing.assert_array_equal(result.is_anomaly, (x < lo) | (x > hi))
    np.testing.assert_allclose(result.lower, lo, rtol=0, atol=TOL)
    np.testing.assert_allclose(result.upper, hi, rtol=0, atol=TOL)
    expected = np.where(x > q3, (x - q3) / (q3 - q1), np.where(x < q1, (x - q1) / (q3 - q1), 0.0))
    np.testing.assert_allclose(result.scores, expected, rtol=0, atol=TOL)
    assert result.n_anomalies >= 4


def test_iqr_default_multiplier_is_seed_000s_1_5() -> None:
    assert IQRParams().multiplier == 1.5


@pytest.mark.parametrize("seed", range(4))
def test_mad_matches_scipy(seed: int) -> None:
    x = _spiky(seed)
    med = np.median(x)
    mad = median_abs_deviation(x, scale=1.0)
    modified_z = 0.6745 * (x - med) / mad
    result = detect("mad", x)
    np.testing.assert_allclose(result.scores, modified_z, rtol=0, atol=TOL)
    np.testing.assert_array_equal(result.is_anomaly, np.abs(modified_z) > 3.5)
    assert result.details["mad"] == pytest.approx(mad, abs=TOL)


@pytest.mark.parametrize("window", [5, 30])
def test_rolling_zscore_matches_loop(window: int) -> None:
    x = _spiky(7)
    expected = np.full(x.size, np.nan)
    for t in range(window, x.size):
        past = x[t - window : t]
        expected[t] = (x[t] - past.mean()) / past.std(ddof=1)
    result = detect("rolling_zscore", x, RollingZScoreParams(window=window, threshold=3.0))
    np.testing.assert_allclose(result.scores, expected, rtol=0, atol=TOL, equal_nan=True)
    np.testing.assert_array_equal(result.is_anomaly, np.nan_to_num(np.abs(expected)) > 3.0)
    assert not result.is_anomaly[:window].any()


def test_rolling_zscore_over_chunk_boundary_matches_loop() -> None:
    x = np.random.default_rng(1).normal(size=70_000)
    result = detect("rolling_zscore", x, RollingZScoreParams(window=4))
    for t in (4, 65_539, 65_540, 65_541, 69_999):
        past = x[t - 4 : t]
        assert result.scores[t] == pytest.approx((x[t] - past.mean()) / past.std(ddof=1), abs=TOL)


def test_ewma_matches_direct_loop() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(10, 2, 150), rng.normal(11.5, 2, 100)])
    lam, big_l = 0.1, 2.7
    mu, sigma = x[:100].mean(), x[:100].std(ddof=1)
    z, scores, upper = mu, [], []
    for t, value in enumerate(x):
        z = lam * value + (1 - lam) * z
        sz = sigma * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * (t + 1))))
        scores.append((z - mu) / sz)
        upper.append(mu + big_l * sz)
    result = detect("ewma", x, EWMAParams(lam=lam, L=big_l, reference_size=100))
    np.testing.assert_allclose(result.scores, scores, rtol=0, atol=TOL)
    np.testing.assert_allclose(result.upper, upper, rtol=0, atol=TOL)
    np.testing.assert_array_equal(result.is_anomaly, np.abs(scores) > big_l)
    assert result.is_anomaly[150:].any()


def test_ewma_with_given_parameters_and_too_short_reference() -> None:
    result = detect("ewma", [0.0, 0.0, 5.0], EWMAParams(target_mean=0.0, sigma=1.0))
    assert result.scores[2] == pytest.approx(0.2 * 5.0 / np.sqrt(0.2 / 1.8 * (1 - 0.8**6)), abs=TOL)
    with pytest.raises(ValueError, match="reference_size=100"):
        detect("ewma", np.zeros(20))


def _seasonal_series(seed: int, period: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = (
        0.05 * t
        + 10 * np.sin(2 * np.pi * t / period)
        + 3 * np.cos(4 * np.pi * t / period)
        + rng.normal(0, 1, n)
    )
    x[rng.choice(n, 4, replace=False)] += 12
    return x


@pytest.mark.parametrize("period", [7, 12, 24])
@pytest.mark.parametrize("extrapolate", [False, True])
def test_seasonal_decomposition_matches_statsmodels(period: int, extrapolate: bool) -> None:
    x = _seasonal_series(period, period, 20 * period + 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        oracle = seasonal_decompose(
            x, model="additive", period=period, extrapolate_trend="period" if extrapolate else 0
        )
    resid = np.asarray(oracle.resid)
    scored = resid[~np.isnan(resid)]
    med = np.median(scored)
    mad = median_abs_deviation(scored, scale=1.0)
    expected = 0.6745 * (resid - med) / mad
    result = detect("seasonal", x, SeasonalParams(period=period, extrapolate_trend=extrapolate))
    # Every point statsmodels defines (all of them when extrapolating, the interior otherwise).
    np.testing.assert_allclose(result.scores, expected, rtol=0, atol=TOL, equal_nan=True)
    fit = np.asarray(oracle.trend) + np.asarray(oracle.seasonal) + med
    np.testing.assert_allclose(result.upper, fit + 3.5 * mad / 0.6745, rtol=0, atol=TOL, equal_nan=True)
    assert np.isnan(result.scores).sum() == (0 if extrapolate else 2 * (period // 2))
    assert result.n_anomalies >= 3


@pytest.mark.parametrize("period", [7, 12, 24])
def test_detected_period(period: int) -> None:
    x = _seasonal_series(100 + period, period, 20 * period)
    assert detect_period(x) == period
    assert detect("seasonal", x).details["period"] == period


def test_no_period_in_noise_falls_back_to_trend_only() -> None:
    x = np.random.default_rng(0).normal(size=300)
    assert detect_period(x) is None
    result = detect("seasonal", x)
    assert result.details["period"] is None
    assert result.n_anomalies <= 3


def _windows(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(300, 4)) * [0.01, 5.0, 100.0, 1.0] + [0.9, 120.0, 1000.0, 0.0]
    matrix[[17, 150]] += [0.08, 40.0, 700.0, 6.0]
    return matrix


def _standardised(matrix: np.ndarray) -> np.ndarray:
    return (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)


@pytest.mark.parametrize("seed", range(3))
def test_isolation_forest_matches_sklearn(seed: int) -> None:
    matrix = _windows(seed)
    model = IsolationForest(random_state=seed).fit(_standardised(matrix))
    expected = -model.score_samples(_standardised(matrix))
    params = IsolationForestParams(seed=seed, score_threshold=None)
    result = detect("isolation_forest", matrix, params)
    np.testing.assert_allclose(result.scores, expected, rtol=0, atol=TOL)
    np.testing.assert_array_equal(result.is_anomaly, model.predict(_standardised(matrix)) == -1)
    default = detect("isolation_forest", matrix, IsolationForestParams(seed=seed))
    np.testing.assert_array_equal(default.is_anomaly, expected > 0.7)
    assert {17, 150} <= set(default.anomaly_indices.tolist())


@pytest.mark.parametrize("standardize", [True, False])
def test_lof_matches_sklearn(standardize: bool) -> None:
    matrix = _windows(4)
    features = _standardised(matrix) if standardize else matrix
    model = LocalOutlierFactor(n_neighbors=20)
    labels = model.fit_predict(features)
    result = detect("lof", matrix, LOFParams(standardize=standardize, score_threshold=None))
    np.testing.assert_allclose(result.scores, -model.negative_outlier_factor_, rtol=0, atol=TOL)
    np.testing.assert_array_equal(result.is_anomaly, labels == -1)
    default = detect("lof", matrix, LOFParams(standardize=standardize))
    np.testing.assert_array_equal(default.is_anomaly, -model.negative_outlier_factor_ > 3.0)
    if standardize:
        assert set(default.anomaly_indices.tolist()) == {17, 150}


def test_lof_caps_neighbours_for_few_windows() -> None:
    result = detect("lof", np.random.default_rng(0).normal(size=(5, 2)))
    assert result.details["n_neighbors_used"] == 4


def test_timestamps_travel_into_the_result() -> None:
    stamps = np.datetime64("2024-01-01T00:00") + np.arange(50) * np.timedelta64(1, "h")
    x = np.zeros(50)
    x[10] = 100.0
    out = detect("mad", x + np.random.default_rng(0).normal(size=50), timestamps=stamps).to_dict()
    assert out["timestamps"][10] == "2024-01-01T10:00"
    assert out["anomaly_indices"] == [10]
    json.dumps(out)
    with pytest.raises(ValueError, match="non-decreasing"):
        detect("mad", x, timestamps=stamps[::-1])
    with pytest.raises(ValueError, match="one timestamp per point"):
        detect("mad", x, timestamps=stamps[:3])


def test_input_errors() -> None:
    with pytest.raises(ValueError, match="1-D"):
        detect("iqr", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="2-D"):
        detect("lof", np.zeros(3))
    with pytest.raises(ValueError, match="first at"):
        detect("iqr", [1.0, np.nan])
    with pytest.raises(ValueError, match="numeric"):
        detect("iqr", ["a", "b"])
    with pytest.raises(TypeError, match="IQRParams"):
        detect("iqr", [1.0], MADParams())
    with pytest.raises(
        UnknownMethodError, match="ewma, iqr, isolation_forest, lof, mad, rolling_zscore, seasonal"
    ):
        ANOMALY_DETECTORS.get("prophet")
    with pytest.raises(ValueError, match="period"):
        SeasonalParams(period=1)
    with pytest.raises(ValueError, match="two cycles"):
        detect("seasonal", np.arange(10.0), SeasonalParams(period=12))


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(values=arrays(np.float64, st.integers(1, 80), elements=finite))
def test_flags_are_consistent_with_scores_and_thresholds(values: np.ndarray) -> None:
    for name in ("iqr", "mad", "rolling_zscore"):
        result = detect(name, values, RollingZScoreParams(window=5) if name == "rolling_zscore" else None)
        assert result.is_anomaly.shape == values.shape
        assert result.n_anomalies <= values.size
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(result.is_anomaly, np.abs(result.scores) > result.score_threshold)
        if name == "iqr":
            # Tukey's fences are the same rule read in value units.
            outside = (values < result.lower) | (values > result.upper)
            assert result.n_anomalies == int(outside.sum()) or result.details["iqr"] == 0.0
        json.dumps(result.to_dict())


def test_small_genuine_spread_is_not_taken_for_rounding_noise() -> None:
    # A huge outlier must not make a small but real IQR look like floating-point noise.
    x = np.array([1.0, 1.0, 1.0, 1.0 - 2e-5, 1.0 + 1e-5, 1.0, 1e6, 1.0 - 1e-4])
    result = detect("iqr", x)
    q1, q3 = np.percentile(x, [25, 75])
    fences = (x < q1 - 1.5 * (q3 - q1)) | (x > q3 + 1.5 * (q3 - q1))
    np.testing.assert_array_equal(result.is_anomaly, fences)
    assert result.is_anomaly[[6, 7]].all()
