"""Mergeable sums from which regression metrics follow exactly (a windows layer sums these in SQL)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from engine.algorithms.performance._common import as_1d, check_same_length


@dataclass(frozen=True, slots=True)
class RegressionSums:
    """Sums from which MSE, RMSE, MAE, R², MAPE, SMAPE and bias follow exactly (err = y_pred - y_true).

    `sum_ape`/`n_ape` cover rows with y_true != 0 only; `sum_sape` adds 2|err|/(|y|+|ŷ|) over all rows
    (0 where both are 0) and `n_sape` counts them. A median needs the raw values (or a histogram of
    absolute errors), so median absolute error has no form from these sums.
    """

    n: int
    sum_err: float
    sum_abs_err: float
    sum_sq_err: float
    sum_ape: float
    n_ape: int
    sum_sape: float
    n_sape: int
    sum_y: float
    sum_y2: float

    def __post_init__(self) -> None:
        if min(self.n, self.n_ape, self.n_sape) < 0 or self.n_ape > self.n or self.n_sape > self.n:
            raise ValueError("RegressionSums counts must satisfy 0 <= n_ape, n_sape <= n")
        if min(self.sum_abs_err, self.sum_sq_err, self.sum_ape, self.sum_sape, self.sum_y2) < 0:
            raise ValueError("RegressionSums sums of absolute or squared values must be non-negative")

    @classmethod
    def from_arrays(cls, y_true: ArrayLike, y_pred: ArrayLike) -> RegressionSums:
        t = as_1d(y_true, "y_true")
        p = as_1d(y_pred, "y_pred")
        n = check_same_length(allow_empty=True, y_true=t, y_pred=p)  # an empty bucket is a valid part
        err = p - t
        abs_err = np.abs(err)
        nonzero = t != 0
        with np.errstate(over="ignore"):  # |err| / tiny |y| may overflow to inf: MAPE is then inf
            ape = abs_err[nonzero] / np.abs(t[nonzero])
        denom = np.abs(t) + np.abs(p)
        sape = np.zeros_like(denom)
        np.divide(2.0 * abs_err, denom, out=sape, where=denom > 0)
        return cls(
            n=n,
            sum_err=float(err.sum()),
            sum_abs_err=float(abs_err.sum()),
            sum_sq_err=float((err**2).sum()),
            sum_ape=float(ape.sum()),
            n_ape=int(nonzero.sum()),
            sum_sape=float(sape.sum()),
            n_sape=n,
            sum_y=float(t.sum()),
            sum_y2=float((t**2).sum()),
        )

    def merge(self, other: RegressionSums) -> RegressionSums:
        return RegressionSums(
            self.n + other.n,
            self.sum_err + other.sum_err,
            self.sum_abs_err + other.sum_abs_err,
            self.sum_sq_err + other.sum_sq_err,
            self.sum_ape + other.sum_ape,
            self.n_ape + other.n_ape,
            self.sum_sape + other.sum_sape,
            self.n_sape + other.n_sape,
            self.sum_y + other.sum_y,
            self.sum_y2 + other.sum_y2,
        )

    __add__ = merge
