"""Anomalies in metric time series: one result type, one registry, one front door (`detect`).

Every method scores each point (or each window, for the multivariate methods) and flags it when
|score| > `score_threshold`, so results from different methods read the same way. Where a method has
an expected band in the metric's own units (rolling mean ± k·std, IQR fences, EWMA control limits,
seasonal fit ± k·MAD) it is returned per point as `lower` / `upper`.

Input policy (enforced in `detect`): values must be finite; NaN or ±inf raises `ValueError` naming
the first offending position — impute or drop missing windows first, so indices stay meaningful.
An empty input raises `ValueError`. Points a method cannot score (e.g. the first `window` points of a
rolling z-score) get score NaN and are never flagged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.algorithms.registry import Registry


@dataclass(frozen=True, slots=True, eq=False)
class AnomalyResult:
    method: str
    scores: np.ndarray
    is_anomaly: np.ndarray
    score_threshold: float
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    timestamps: np.ndarray | None = None

    @property
    def anomaly_indices(self) -> np.ndarray:
        return np.flatnonzero(self.is_anomaly)

    @property
    def n_anomalies(self) -> int:
        return int(np.count_nonzero(self.is_anomaly))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n": int(self.scores.size),
            "n_anomalies": self.n_anomalies,
            "anomaly_indices": [int(i) for i in self.anomaly_indices],
            "scores": json_floats(self.scores),
            "is_anomaly": [bool(v) for v in self.is_anomaly],
            "thresholds": {
                "score": json_float(self.score_threshold),
                "lower": None if self.lower is None else json_floats(self.lower),
                "upper": None if self.upper is None else json_floats(self.upper),
            },
            "params": {k: json_value(v) for k, v in self.params.items()},
            "details": {k: json_value(v) for k, v in self.details.items()},
            "timestamps": None if self.timestamps is None else _json_timestamps(self.timestamps),
        }


def json_float(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def json_floats(values: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=float).tolist()]


def json_value(value: Any) -> Any:
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, (float, np.floating)):
        return json_float(float(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def _json_timestamps(timestamps: np.ndarray) -> list[Any]:
    if np.issubdtype(timestamps.dtype, np.datetime64):
        return [str(v) for v in np.datetime_as_string(timestamps)]
    return [json_value(v) for v in timestamps.tolist()]


@dataclass(frozen=True, slots=True)
class AnomalyMethod:
    """A registered method: its typed parameters and the function that scores the values."""

    name: str
    params_type: type[Any]
    multivariate: bool
    score: Callable[[np.ndarray, Any], AnomalyResult]


ANOMALY_DETECTORS: Registry[AnomalyMethod] = Registry("anomaly detector")


def anomaly_method(
    name: str, params_type: type[Any], *, multivariate: bool = False
) -> Callable[[Callable[[np.ndarray, Any], AnomalyResult]], Callable[[np.ndarray, Any], AnomalyResult]]:
    """Register a scoring function under `name` (used as a decorator where the method is defined)."""

    def decorate(
        fn: Callable[[np.ndarray, Any], AnomalyResult],
    ) -> Callable[[np.ndarray, Any], AnomalyResult]:
        ANOMALY_DETECTORS.add(name, AnomalyMethod(name, params_type, multivariate, fn))
        return fn

    return decorate


def detect(name: str, values: Any, params: Any = None, *, timestamps: Any = None) -> AnomalyResult:
    """Score `values` with the method registered under `name`.

    Univariate methods take a 1-D array of metric values; multivariate ones a 2-D matrix
    (n_windows × n_metrics). `timestamps`, when given, must have one entry per point (row) and be
    non-decreasing; they are carried into the result so anomalies can be reported by time.
    """
    method = ANOMALY_DETECTORS.get(name)
    if params is None:
        params = method.params_type()
    if not isinstance(params, method.params_type):
        raise TypeError(f"{name} expects {method.params_type.__name__}, got {type(params).__name__}")
    data = _validated_values(name, values, 2 if method.multivariate else 1)
    stamps = _validated_timestamps(name, timestamps, data.shape[0])
    result = method.score(data, params)
    return dataclasses.replace(result, params=dataclasses.asdict(params), timestamps=stamps)


def _validated_values(name: str, values: Any, ndim: int) -> np.ndarray:
    try:
        data = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: values must be numeric") from None
    if data.ndim != ndim:
        shape = "a 1-D array of values" if ndim == 1 else "a 2-D matrix (n_windows × n_metrics)"
        raise ValueError(f"{name}: expects {shape}, got shape {data.shape}")
    if data.shape[0] == 0 or data.size == 0:
        raise ValueError(f"{name}: no values to score")
    bad = ~np.isfinite(data)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}: {int(bad.sum())} non-finite values (first at {tuple(int(i) for i in first)}); "
            "impute or drop them before anomaly detection"
        )
    return data


def _validated_timestamps(name: str, timestamps: Any, n: int) -> np.ndarray | None:
    if timestamps is None:
        return None
    stamps = np.asarray(timestamps)
    if stamps.ndim != 1 or stamps.shape[0] != n:
        raise ValueError(f"{name}: need one timestamp per point ({n}), got shape {stamps.shape}")
    orderable = np.issubdtype(stamps.dtype, np.number) or np.issubdtype(stamps.dtype, np.datetime64)
    if n > 1 and orderable and np.any(stamps[1:] < stamps[:-1]):
        raise ValueError(f"{name}: timestamps must be non-decreasing")
    return stamps


def robust_z(values: np.ndarray, center: float, mad: float, *, scale: float = 0.0) -> np.ndarray:
    """Iglewicz–Hoaglin modified z-score 0.6745·(x − median)/MAD; ±inf off-centre when MAD is 0."""
    return ratio(0.6745 * (values - center), mad, scale=scale)


# Relative size below which a spread or a deviation is rounding noise rather than signal: a constant
# series must not turn into ±inf scores because a mean came out as 7.000000000000002.
_RELATIVE_NOISE = 1e-12


def ratio(numerator: np.ndarray, denominator: float | np.ndarray, *, scale: float = 0.0) -> np.ndarray:
    """numerator / denominator, with 0/0 → 0 and x/0 → ±inf (no warnings): a zero spread means any
    departure from the centre is infinitely unusual, and no departure is not unusual at all.

    With `scale` (the typical magnitude of the data, see `magnitude`), spreads and deviations smaller
    than 1e-12 · scale count as exactly zero.
    """
    num = np.asarray(numerator, dtype=float).copy()
    den = np.broadcast_to(np.asarray(denominator, dtype=float), num.shape).copy()
    if scale > 0:
        tol = _RELATIVE_NOISE * scale
        den[np.abs(den) <= tol] = 0.0
        num[(den == 0) & (np.abs(num) <= tol)] = 0.0
    out = np.zeros_like(num)
    nonzero = den != 0
    np.divide(num, den, out=out, where=nonzero)
    zero_den = ~nonzero & (num != 0) & ~np.isnan(num)
    out[zero_den] = np.copysign(np.inf, num[zero_den])
    out[np.isnan(num) | np.isnan(den)] = np.nan
    return out


def magnitude(values: np.ndarray) -> float:
    """median |x|: the scale against which rounding noise is judged in `ratio`. Not max |x|, which a
    single huge outlier would inflate until a genuine small spread passed for noise."""
    return float(np.median(np.abs(values))) if values.size else 0.0


def flags(scores: np.ndarray, threshold: float) -> np.ndarray:
    """|score| > threshold, with unscored (NaN) points never flagged."""
    with np.errstate(invalid="ignore"):
        return np.abs(scores) > threshold
