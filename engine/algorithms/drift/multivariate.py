"""Multivariate drift: the registry of methods over whole feature matrices, and input checks.

A multivariate method looks at all features together (rows = observations, columns = numeric
features; encode categories before). Each is a class fitted once on the reference
(``Method.fit(reference, ...)``) whose ``compute(current)`` returns a `DriftResult`; the registry holds
plain ``(reference, current, seed) -> DriftResult`` functions that do both, for one-off use and for
the contract tests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from engine.algorithms.drift.binning import FloatArray
from engine.algorithms.drift.method import DriftResult
from engine.algorithms.registry import Registry

MultivariateMethod = Callable[[ArrayLike, ArrayLike, int], DriftResult]

MULTIVARIATE_DRIFT_METHODS: Registry[MultivariateMethod] = Registry("multivariate drift method")


def as_matrix(values: ArrayLike, what: str, n_columns: int | None = None, min_rows: int = 1) -> FloatArray:
    """A 2-D float matrix with at least ``min_rows`` rows (NaN allowed, inf is an error)."""
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a numeric matrix: {exc}") from None
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"{what} must be a 2-D matrix with at least one column, got shape {x.shape}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{what} needs at least {min_rows} rows, got {x.shape[0]}")
    if n_columns is not None and x.shape[1] != n_columns:
        raise ValueError(f"{what} has {x.shape[1]} columns, the reference has {n_columns}")
    if np.isinf(x).any():
        raise ValueError(f"{what} contains infinite values")
    return x
