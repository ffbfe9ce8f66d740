"""Regression metrics, from raw arrays or from `RegressionSums`.

Definitions (err = y_pred - y_true): MSE = mean err², RMSE = √MSE, MAE = mean |err|, bias = mean err
(positive: over-prediction), R² = 1 - Σerr² / Σ(y - ȳ)², MAPE = mean |err|/|y| over rows with y != 0
(a fraction, not a percentage; NaN when every y is 0), SMAPE = mean 2|err|/(|y|+|ŷ|) with 0 for rows
where both are 0 (range [0, 2]), median absolute error = median |err| (raw only).

R² on constant y_true follows sklearn: 1.0 for a perfect fit, else 0.0. From sums, Σ(y - ȳ)² is
Σy² - (Σy)²/n; a result below 1e-12·Σy² is treated as zero (constant y), which is the precision the sums
carry.

>>> import numpy as np
>>> evaluate_regression(["mae", "bias"], np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0]))["bias"].value
0.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine.algorithms.performance._common import MetricValue, as_1d, check_same_length
from engine.algorithms.performance.registry import REGRESSION_METRICS, RegressionMetric
from engine.algorithms.performance.regression_sums import RegressionSums

NAN = float("nan")
_CONSTANT_Y_RTOL = 1e-12


def _need_rows(sums: RegressionSums) -> None:
    if sums.n == 0:
        raise ValueError("regression sums are empty (n = 0)")


def mse(s: RegressionSums) -> float:
    _need_rows(s)
    return s.sum_sq_err / s.n


def r2(s: RegressionSums) -> float:
    _need_rows(s)
    sst = s.sum_y2 - s.sum_y**2 / s.n
    if sst <= _CONSTANT_Y_RTOL * s.sum_y2 or sst <= 0.0:
        return 1.0 if s.sum_sq_err == 0.0 else 0.0
    return 1.0 - s.sum_sq_err / sst


def mape(s: RegressionSums) -> float:
    _need_rows(s)
    return s.sum_ape / s.n_ape if s.n_ape else NAN


def smape(s: RegressionSums) -> float:
    _need_rows(s)
    return s.sum_sape / s.n_sape if s.n_sape else NAN


def _mean(field: Callable[[RegressionSums], float]) -> Callable[[RegressionSums], float]:
    def compute(s: RegressionSums) -> float:
        _need_rows(s)
        return field(s) / s.n

    return compute


_FROM_SUMS: dict[str, tuple[Callable[[RegressionSums], float], bool, float | None, float | None]] = {
    "mse": (mse, False, 0.0, None),
    "rmse": (lambda s: math.sqrt(mse(s)), False, 0.0, None),
    "mae": (_mean(lambda s: s.sum_abs_err), False, 0.0, None),
    "bias": (_mean(lambda s: s.sum_err), False, None, None),
    "r2": (r2, True, None, 1.0),
    "mape": (mape, False, 0.0, None),
    "smape": (smape, False, 0.0, 2.0),
}


def _register_sums(
    name: str, fn: Callable[[RegressionSums], float], hib: bool, lo: float | None, hi: float | None
) -> None:
    def from_sums(s: RegressionSums) -> MetricValue:
        value = fn(s)
        details = {"undefined": "every y_true is 0"} if name == "mape" and math.isnan(value) else {}
        return MetricValue(name, value, s.n, details=details)

    def from_raw(t: NDArray[np.float64], p: NDArray[np.float64]) -> MetricValue:
        return from_sums(RegressionSums.from_arrays(t, p))

    REGRESSION_METRICS.add(name, RegressionMetric(name, hib, lo, hi, from_raw, from_sums))


for _name, (_fn, _hib, _lo, _hi) in _FROM_SUMS.items():
    _register_sums(_name, _fn, _hib, _lo, _hi)


def _median_absolute_error(t: NDArray[np.float64], p: NDArray[np.float64]) -> MetricValue:
    t, p = as_1d(t, "y_true"), as_1d(p, "y_pred")
    n = check_same_length(y_true=t, y_pred=p)
    return MetricValue("median_absolute_error", float(np.median(np.abs(p - t))), n)


REGRESSION_METRICS.add(
    "median_absolute_error",
    RegressionMetric("median_absolute_error", False, 0.0, None, _median_absolute_error, None),
)


def evaluate_regression(names: Sequence[str], y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, MetricValue]:
    t, p = as_1d(y_true, "y_true"), as_1d(y_pred, "y_pred")
    check_same_length(y_true=t, y_pred=p)
    return {name: REGRESSION_METRICS.get(name).from_raw(t, p) for name in names}


def evaluate_regression_sums(names: Sequence[str], sums: RegressionSums) -> dict[str, MetricValue]:
    out: dict[str, MetricValue] = {}
    for name in names:
        metric = REGRESSION_METRICS.get(name)
        if metric.from_sums is None:
            raise ValueError(f"{name} cannot be computed from sums; it needs raw values")
        out[name] = metric.from_sums(sums)
    return out
