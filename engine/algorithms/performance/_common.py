"""Shared pieces of the performance metrics: the result type and input checks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Label = int | str | bool


def json_float(value: float) -> float | None:
    """A float for JSON: NaN and ±inf become None."""
    value = float(value)
    return value if math.isfinite(value) else None


def json_value(value: Any) -> Any:
    """Recursively map a result payload to JSON-serialisable values (NaN/inf → None)."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return json_float(float(value))
    if isinstance(value, np.ndarray):
        return json_value(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [json_value(v) for v in value]
    raise TypeError(f"cannot serialise {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One metric on one window.

    `value` is NaN when the metric is undefined on the input (documented per metric); `error_bound` is 0
    for exact metrics and, for metrics computed from a score histogram, a guaranteed bound: the exact
    value lies in `value ± error_bound`. `per_class` holds per-label values for the per-class metrics and
    `matrix` the confusion matrix (rows actual, columns predicted, in `labels` order).
    """

    name: str
    value: float
    n: int
    error_bound: float = 0.0
    labels: tuple[Label, ...] = ()
    per_class: tuple[float, ...] = ()
    matrix: tuple[tuple[int, ...], ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": json_float(self.value),
            "n": int(self.n),
            "error_bound": json_float(self.error_bound),
            "labels": [json_value(lab) for lab in self.labels],
            "per_class": {
                str(lab): json_float(v) for lab, v in zip(self.labels, self.per_class, strict=False)
            },
            "matrix": [[int(c) for c in row] for row in self.matrix],
            "details": json_value(dict(self.details)),
        }


def as_1d(values: ArrayLike, name: str, *, numeric: bool = True) -> NDArray[Any]:
    """A 1-D array; numeric arrays are float64 and must be free of NaN and inf."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if numeric:
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
    elif arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    elif arr.dtype.kind == "O" and any(v is None or (isinstance(v, float) and math.isnan(v)) for v in arr):
        raise ValueError(f"{name} contains missing values")
    return arr


def check_same_length(allow_empty: bool = False, **arrays: NDArray[Any]) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")
    n = next(iter(lengths.values()))
    if n == 0 and not allow_empty:
        raise ValueError(f"empty input: {', '.join(lengths)} have no rows")
    return n


def check_probabilities(p: NDArray[np.float64], name: str) -> None:
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError(f"{name} must lie in [0, 1] (got min {p.min()}, max {p.max()})")


def safe_div(num: NDArray[np.float64] | float, den: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """num / den with 0 where den == 0 (sklearn's zero_division=0)."""
    num_a = np.asarray(num, dtype=np.float64)
    den_a = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num_a, den_a).shape)
    np.divide(num_a, den_a, out=out, where=den_a != 0)
    return out
