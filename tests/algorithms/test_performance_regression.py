"""Regression metrics against sklearn.metrics / numpy; sums form == raw form, also after merging."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from engine.algorithms.performance import (
    REGRESSION_METRICS,
    RegressionSums,
    evaluate_regression,
    evaluate_regression_sums,
)

TOL = 1e-9


def _data(seed: int, n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(50.0, 10.0, n)
    return y, y + rng.normal(1.0, 5.0, n)


def _oracle(name: str, y: np.ndarray, p: np.ndarray) -> float:
    smape = np.where((y == 0) & (p == 0), 0.0, 2 * np.abs(p - y) / np.maximum(np.abs(y) + np.abs(p), 1e-300))
    return {
        "mse": skm.mean_squared_error(y, p),
        "rmse": skm.root_mean_squared_error(y, p),
        "mae": skm.mean_absolute_error(y, p),
        "r2": skm.r2_score(y, p),
        "mape": skm.mean_absolute_percentage_error(y, p),
        "smape": float(smape.mean()),
        "median_absolute_error": skm.median_absolute_error(y, p),
        "bias": float(np.mean(p - y)),
    }[name]


@pytest.mark.parametrize("name", REGRESSION_METRICS.names())
@pytest.mark.parametrize("seed", [0, 1])
def test_raw_matches_oracle(name: str, seed: int) -> None:
    y, p = _data(seed)
    got = evaluate_regression([name], y, p)[name].value
    assert got == pytest.approx(_oracle(name, y, p), rel=TOL, abs=TOL)


def test_sums_equal_raw_after_merge() -> None:
    y, p = _data(3, 3000)
    parts = [RegressionSums.from_arrays(y[i : i + 1000], p[i : i + 1000]) for i in range(0, 3000, 1000)]
    merged = parts[0] + parts[1] + parts[2]
    names = [n for n, m in REGRESSION_METRICS.items() if m.from_sums is not None]
    from_sums = evaluate_regression_sums(names, merged)
    raw = evaluate_regression(names, y, p)
    for name in names:
        assert from_sums[name].value == pytest.approx(raw[name].value, rel=TOL, abs=TOL), name


def test_median_needs_raw_values() -> None:
    with pytest.raises(ValueError, match="raw values"):
        evaluate_regression_sums(["median_absolute_error"], RegressionSums.from_arrays([1.0], [2.0]))


def test_zero_targets_mape_and_smape_conventions() -> None:
    y = np.array([0.0, 0.0, 2.0])
    p = np.array([0.0, 1.0, 1.0])
    res = evaluate_regression(["mape", "smape"], y, p)
    assert res["mape"].value == pytest.approx(0.5)  # only the y=2 row counts
    assert res["smape"].value == pytest.approx((0.0 + 2.0 + 2 / 3) / 3)
    all_zero = evaluate_regression(["mape"], [0.0, 0.0], [1.0, 0.0])["mape"]
    assert np.isnan(all_zero.value) and all_zero.to_dict()["value"] is None


def test_r2_constant_target_follows_sklearn() -> None:
    y = np.full(5, 0.1)
    assert evaluate_regression(["r2"], y, y)["r2"].value == skm.r2_score(y, y) == 1.0
    assert evaluate_regression(["r2"], y, y + 1)["r2"].value == skm.r2_score(y, y + 1) == 0.0


def test_bias_sign_is_over_prediction() -> None:
    assert evaluate_regression(["bias"], [1.0, 1.0], [2.0, 3.0])["bias"].value == 1.5
