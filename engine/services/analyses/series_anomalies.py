"""Anomalies and change points in a series the caller sends (stateless: nothing is read or stored).

The same detectors as the stored-series endpoint (`engine.algorithms.anomaly.series`): point methods fitted
on the reference part — the points before `reference_end` (with timestamps), or the first `reference_size`
points, or else the first `reference_fraction` of them — and scoring the rest; `fit="whole"` runs the
library's own method over every point; change-point detectors read the reference first and report the
detections in the scored part.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import numpy as np

from engine.algorithms.anomaly.base import json_value
from engine.algorithms.anomaly.series import CHANGE_METHODS, check_method, score_series
from engine.errors import RowError, ValidationError

MAX_POINTS = 50_000


class SeriesAnomalyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A series (`values`, optionally with strictly increasing `timestamps`), the method and its parameters."""

    values: list[float]
    timestamps: list[datetime] | None = None
    method: str = "mad"
    fit: str = "reference"  # reference | whole
    reference_fraction: float = 0.5
    reference_size: int | None = None  # the first N points are the reference
    reference_end: datetime | None = None  # the points before it are the reference (needs timestamps)
    threshold: float | None = None
    period: int | None = None


class SeriesPoint(msgspec.Struct, frozen=True):
    index: int
    timestamp: datetime | None
    value: float
    reference: bool  # part of the reference (fitted on, not scored)
    score: float | None
    lower: float | None
    upper: float | None
    anomaly: bool
    change_point: bool


class SeriesAnomalyReport(msgspec.Struct, frozen=True):
    method: str
    kind: str  # point | change
    fit: str
    status: str  # ok | insufficient_data
    n_reference: int
    n_scored: int
    threshold: float | None
    n_anomalies: int
    anomalies: tuple[int, ...]  # indices of the anomalies (point methods) or change points
    points: tuple[SeriesPoint, ...]
    details: dict[str, Any]


def _f(v: Any) -> float | None:
    x = float(v)
    return x if np.isfinite(x) else None


def detect_series(req: SeriesAnomalyRequest) -> SeriesAnomalyReport:
    errors = _check(req)
    if errors:
        raise ValidationError(errors)
    change = req.method in CHANGE_METHODS
    values = np.asarray(req.values, dtype=np.float64)
    n = values.size
    if req.fit == "whole" and not change:
        k = 0
    elif req.reference_end is not None and req.timestamps is not None:
        k = sum(t < req.reference_end for t in req.timestamps)
    elif req.reference_size is not None:
        k = req.reference_size
    else:
        k = int(n * req.reference_fraction)
    scores = lower = upper = np.full(n, np.nan)
    flagged = changes = np.zeros(n, dtype=bool)
    details: dict[str, Any] = {}
    used = req.threshold
    status = "ok"
    if (req.fit == "reference" and (k < 2 or n - k < 1)) or n < 3:
        status = "insufficient_data"
        details["needs"] = "at least 3 points, 2 in the reference and 1 scored"
    else:
        try:
            res = score_series(req.method, values, k, req.fit, req.threshold, req.period)
        except ValueError as exc:
            raise ValidationError([RowError(None, "method", str(exc))]) from exc
        scores, lower, upper, flagged, changes = res.scores, res.lower, res.upper, res.flagged, res.changes
        used, details = res.threshold, dict(json_value(res.details))
    hits = changes if change else flagged
    stamps: list[datetime | None] = list(req.timestamps) if req.timestamps is not None else [None] * n
    points = tuple(
        SeriesPoint(i, stamps[i], float(values[i]), i < k, _f(scores[i]), _f(lower[i]), _f(upper[i]),
                    bool(flagged[i]), bool(changes[i]))
        for i in range(n))
    anomalies = tuple(int(i) for i in np.flatnonzero(hits))
    return SeriesAnomalyReport(req.method, "change" if change else "point", req.fit, status, k, n - k, used,
                               len(anomalies), anomalies, points, details)


def _check(req: SeriesAnomalyRequest) -> list[RowError]:
    errs: list[RowError] = []
    bad = check_method(req.method, req.fit)
    if bad is not None:
        errs.append(RowError(None, *bad))
    n = len(req.values)
    if not 1 <= n <= MAX_POINTS:
        errs.append(RowError(None, "values", f"1 to {MAX_POINTS} numbers"))
    bad_values = [i for i, v in enumerate(req.values) if not np.isfinite(v)]
    if bad_values:
        errs.append(RowError(bad_values[0], "values", "finite numbers only"))
    if req.timestamps is not None:
        if len(req.timestamps) != n:
            errs.append(RowError(None, "timestamps", f"one per value: {len(req.timestamps)} for {n} values"))
        elif any(t.tzinfo is None for t in req.timestamps):
            errs.append(RowError(None, "timestamps", "timezone-aware (e.g. 2026-03-01T00:00:00Z)"))
        elif any(b <= a for a, b in zip(req.timestamps, req.timestamps[1:], strict=False)):
            i = next(i for i, (a, b) in enumerate(zip(req.timestamps, req.timestamps[1:], strict=False)) if b <= a)
            errs.append(RowError(i + 1, "timestamps", "strictly increasing"))
    if req.reference_end is not None:
        if req.timestamps is None:
            errs.append(RowError(None, "reference_end", "needs timestamps"))
        elif req.reference_end.tzinfo is None:
            errs.append(RowError(None, "reference_end", "timezone-aware"))
    if req.reference_size is not None and req.reference_end is not None:
        errs.append(RowError(None, "reference_size", "give reference_size or reference_end, not both"))
    if req.reference_size is not None and not 2 <= req.reference_size < max(n, 3):
        errs.append(RowError(None, "reference_size", f"2 to {max(n - 1, 2)} points (some must be left to score)"))
    if not 0 < req.reference_fraction < 1:
        errs.append(RowError(None, "reference_fraction", "in (0, 1)"))
    if req.threshold is not None and not 0 < req.threshold < 1e12:
        errs.append(RowError(None, "threshold", "positive"))
    if req.period is not None and not 2 <= req.period <= 10_000:
        errs.append(RowError(None, "period", "2 to 10000"))
    return errs
