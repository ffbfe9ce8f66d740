"""One series, one detector: the points before index `k` are the reference (fitted on, not scored), the rest
are scored — shared by the stored-series anomalies (metric windows) and the stateless POST /anomalies.

- point methods fitted on the reference (`reference.REFERENCE_METHODS`: zscore, iqr, mad, ewma, seasonal);
- `fit="whole"`: the library's own method over every point (`ANOMALY_DETECTORS`; also rolling_zscore), k = 0;
- change points (`CHANGE_METHODS`): the detector reads the reference first (CUSUM takes its mean and sigma
  from it) and only the detections in the scored part are reported.

>>> r = score_series("zscore", np.array([1.0, 2.0, 3.0, 2.0, 9.0]), k=3)
>>> r.flagged.tolist(), r.threshold
([False, False, False, False, True], 3.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.algorithms.anomaly import detect
from engine.algorithms.anomaly.base import ANOMALY_DETECTORS
from engine.algorithms.anomaly.reference import REFERENCE_METHODS, score_on_reference
from engine.algorithms.changepoint import make_detector
from engine.algorithms.changepoint.cusum import CUSUMParams
from engine.algorithms.changepoint.river_detectors import PageHinkleyParams

CHANGE_METHODS = ("adwin", "page_hinkley", "kswin", "cusum")
WHOLE_METHODS = ("rolling_zscore", "iqr", "mad", "ewma", "seasonal")
_WHOLE_THRESHOLD = {"rolling_zscore": "threshold", "iqr": "multiplier", "mad": "threshold", "ewma": "L",
                    "seasonal": "threshold"}


def known_methods() -> list[str]:
    return sorted({*CHANGE_METHODS, *REFERENCE_METHODS.names(), *WHOLE_METHODS})


def check_method(method: str, fit: str) -> tuple[str, str] | None:
    """(field, message) when `method` with `fit` is not a valid combination."""
    change = method in CHANGE_METHODS
    if method not in known_methods():
        return "method", f"unknown {method!r}; known: {', '.join(known_methods())}"
    if fit not in ("reference", "whole") or (fit == "whole" and method not in WHOLE_METHODS and not change):
        return "fit", f"reference, or whole for {', '.join(WHOLE_METHODS)}"
    if fit == "reference" and not change and method not in REFERENCE_METHODS.names():
        return "method", f"{method} scores the whole series: use fit=whole"
    return None


@dataclass(frozen=True, slots=True)
class SeriesScores:
    scores: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    flagged: np.ndarray  # point anomalies
    changes: np.ndarray  # change points
    threshold: float | None
    details: dict[str, Any] = field(default_factory=dict)


def score_series(
    method: str, values: np.ndarray, k: int, fit: str = "reference", threshold: float | None = None,
    period: int | None = None,
) -> SeriesScores:
    """Score `values` (finite) with the first `k` as the reference (ignored for fit="whole"). Raises
    ValueError on a method the data cannot support (e.g. a seasonal reference shorter than two cycles)."""
    n = values.size
    scores = lower = upper = np.full(n, np.nan)
    flagged = np.zeros(n, dtype=bool)
    changes = np.zeros(n, dtype=bool)
    if method in CHANGE_METHODS:
        used = _changes(method, values, k, threshold, changes)
        return SeriesScores(scores, lower, upper, flagged, changes, used)
    if fit == "whole":
        res = detect(method, values, _whole_params(method, threshold, period))
        return SeriesScores(res.scores, res.lower if res.lower is not None else lower,
                            res.upper if res.upper is not None else upper, res.is_anomaly, changes,
                            res.score_threshold, {k2: v for k2, v in res.details.items() if k2 != "ewma"})
    res = score_on_reference(method, values[:k], values[k:], threshold, period)
    pad = np.full(k, np.nan)
    return SeriesScores(
        np.r_[pad, res.scores], np.r_[pad, res.lower] if res.lower is not None else lower,
        np.r_[pad, res.upper] if res.upper is not None else upper, np.r_[np.zeros(k, dtype=bool), res.is_anomaly],
        changes, res.score_threshold, {k2: v for k2, v in res.details.items() if k2 != "ewma"})


def _changes(method: str, values: np.ndarray, k: int, threshold: float | None, out: np.ndarray) -> float | None:
    params: Any = None
    if method == "cusum":
        params = CUSUMParams(h=threshold or 5.0, reference_size=max(k, 2))
    elif method == "page_hinkley":
        params = PageHinkleyParams(threshold=threshold or 50.0)
    res = make_detector(method, params).run(values)
    for i in res.detections:
        if i >= k:
            out[i] = True
    return threshold if params is None else (params.h if method == "cusum" else params.threshold)


def _whole_params(method: str, threshold: float | None, period: int | None) -> Any:
    spec = ANOMALY_DETECTORS.get(method)
    kw: dict[str, Any] = {}
    if threshold is not None:
        kw[_WHOLE_THRESHOLD[method]] = threshold
    if method == "seasonal" and period is not None:
        kw["period"] = period
    return spec.params_type(**kw)
