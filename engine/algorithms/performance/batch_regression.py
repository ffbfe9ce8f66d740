"""Regression metrics over many windows at once: `RegressionSums` fields stacked along a leading axis.

Element by element equal to `evaluate_regression_sums` on that element's `RegressionSums` (same formulas,
including R²'s constant-y rule and MAPE's NaN when every y is 0); elements with n = 0 (where the
per-element form raises) are NaN.

>>> import numpy as np
>>> s = RegressionSumsBatch.zeros(2)
>>> evaluate_regression_batch(["mse"], s)["mse"].values.tolist()
[nan, nan]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.algorithms.performance.batch import BatchValues
from engine.algorithms.performance.regression import _CONSTANT_Y_RTOL
from engine.algorithms.registry import Registry

F64 = NDArray[np.float64]
NAN = float("nan")


@dataclass(frozen=True, slots=True)
class RegressionSumsBatch:
    """The fields of `RegressionSums`, each an array of shape (B,)."""

    n: F64
    sum_err: F64
    sum_abs_err: F64
    sum_sq_err: F64
    sum_ape: F64
    n_ape: F64
    sum_sape: F64
    n_sape: F64
    sum_y: F64
    sum_y2: F64

    def __post_init__(self) -> None:
        shapes = {np.shape(getattr(self, f)) for f in self.__slots__}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ValueError(f"RegressionSumsBatch fields must be 1-D of one length, got {shapes}")

    @classmethod
    def zeros(cls, size: int) -> RegressionSumsBatch:
        return cls(*(np.zeros(size) for _ in range(10)))


def _safe(num: F64, den: F64, ok: NDArray[np.bool_]) -> F64:
    return np.where(ok, num / np.where(ok, den, 1.0), NAN)


def _mse(s: RegressionSumsBatch) -> F64:
    return _safe(s.sum_sq_err, s.n, s.n > 0)


def _r2(s: RegressionSumsBatch) -> F64:
    has = s.n > 0
    n = np.where(has, s.n, 1.0)
    sst = s.sum_y2 - s.sum_y**2 / n
    constant = (sst <= _CONSTANT_Y_RTOL * s.sum_y2) | (sst <= 0.0)
    fit = 1.0 - s.sum_sq_err / np.where(constant, 1.0, sst)
    values = np.where(constant, np.where(s.sum_sq_err == 0.0, 1.0, 0.0), fit)
    return np.where(has, values, NAN)


_FROM_SUMS: dict[str, Callable[[RegressionSumsBatch], F64]] = {
    "mse": _mse,
    "rmse": lambda s: np.sqrt(_mse(s)),
    "mae": lambda s: _safe(s.sum_abs_err, s.n, s.n > 0),
    "bias": lambda s: _safe(s.sum_err, s.n, s.n > 0),
    "r2": _r2,
    "mape": lambda s: _safe(s.sum_ape, s.n_ape, (s.n > 0) & (s.n_ape > 0)),
    "smape": lambda s: _safe(s.sum_sape, s.n_sape, (s.n > 0) & (s.n_sape > 0)),
}

REGRESSION_BATCH_METRICS: Registry[Callable[[RegressionSumsBatch], F64]] = Registry("batch regression metric")
for _name, _fn in _FROM_SUMS.items():
    REGRESSION_BATCH_METRICS.add(_name, _fn)


def evaluate_regression_batch(names: Sequence[str], sums: RegressionSumsBatch) -> dict[str, BatchValues]:
    out = {}
    for name in names:
        values = REGRESSION_BATCH_METRICS.get(name)(sums)
        out[name] = BatchValues(name, values, np.zeros_like(values))
    return out
