"""Anomalies and change points in a metric series (a model metric per bucket of the prediction windows, or a
custom metric's bucket means; at 1m / 1h / 1d or any granularity the windows serve).

Point anomalies (`zscore`, `iqr`, `mad`, `ewma`, `seasonal`): fitted on the reference part of the series —
the buckets before `reference_end`, or else the first `reference_fraction` of them — and scoring the rest
(`engine.algorithms.anomaly.reference`); `fit="whole"` runs the library's own method over every point instead
(there also `rolling_zscore`). Change points (`adwin`, `page_hinkley`, `kswin`, `cusum`; 1-minute series
unless a granularity is given): the detector reads the reference first (CUSUM takes its mean and sigma from
it) and the change points reported are those in the scored part. Buckets without a value, or resting on
fewer than `min_bucket_samples` rows, are left out. Persisted on request (analysis "anomalies"): the count of
anomalies with the flagged buckets (first 100) in `details`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import numpy as np

from engine.algorithms.anomaly.base import json_value
from engine.algorithms.anomaly.series import CHANGE_METHODS, check_method, score_series
from engine.errors import RowError, ValidationError
from engine.services.analyses.drift_scope import resolve_scope
from engine.services.analyses.trend import read_points
from engine.services.window_params import choose_granularity
from engine.store import models_repo, results_repo
from engine.store.results_repo import ResultRow, RunKey
from engine.store.unit import UnitOfWork

MAX_SERIES = 50_000


class AnomalyPoint(msgspec.Struct, frozen=True):
    bucket: datetime
    value: float
    n: int
    reference: bool  # part of the reference (fitted on, not scored)
    score: float | None
    lower: float | None
    upper: float | None
    anomaly: bool
    change_point: bool


class AnomalyReport(msgspec.Struct, frozen=True):
    model: str
    metric: str
    source: str  # model_metric | custom_metric
    filters: dict[str, str]
    method: str
    kind: str  # point | change
    fit: str  # reference | whole
    start: datetime
    end: datetime
    granularity: str
    reference_end: datetime | None  # the first scored bucket
    n_reference: int
    n_scored: int
    threshold: float | None
    n_anomalies: int
    anomalies: tuple[datetime, ...]
    points: tuple[AnomalyPoint, ...]
    details: dict[str, Any]


def _f(v: Any) -> float | None:
    x = float(v)
    return x if np.isfinite(x) else None


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError([RowError(None, field, message)])


class AnomalyService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def anomalies(
        self, model: str, metric: str, start: datetime, end: datetime, *, method: str = "mad",
        granularity: str = "auto", custom: bool = False, fit: str = "reference", reference_end: datetime | None = None,
        reference_fraction: float = 0.5, threshold: float | None = None, period: int | None = None,
        min_bucket_samples: int = 1, filters: dict[str, str] | None = None, persist: bool = False,
        run_key: str = "adhoc", version: str | None = None,
    ) -> AnomalyReport:
        change = method in CHANGE_METHODS
        bad = check_method(method, fit)
        if bad is not None:
            raise _invalid(*bad)
        if not 0 < reference_fraction < 1:
            raise _invalid("reference_fraction", "in (0, 1)")
        if threshold is not None and not (0 < threshold < 1e12):
            raise _invalid("threshold", "positive")
        if period is not None and not 2 <= period <= 10_000:
            raise _invalid("period", "2 to 10000")
        if not 1 <= min_bucket_samples <= 10_000_000:
            raise _invalid("min_bucket_samples", "1 to 10000000")
        gran = choose_granularity(start, end, "1m" if change and granularity == "auto" else granularity)
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            version_id = (await resolve_scope(conn, info, version, None)).version_id
            raw = await read_points(self.uow, info, metric, start, end, gran, custom, filters, version_id)
            points = [p for p in raw if p.value is not None and np.isfinite(p.value) and p.n >= min_bucket_samples]
            if len(points) > MAX_SERIES:
                raise _invalid("granularity", f"more than {MAX_SERIES} points; use a coarser one")
            values = np.array([p.value for p in points], dtype=np.float64)
            if fit == "whole" and not change:
                k = 0
            elif reference_end is not None:
                k = sum(p.bucket < reference_end for p in points)
            else:
                k = int(len(points) * reference_fraction)
            n_scored = len(points) - k
            scores = lower = upper = np.full(len(points), np.nan)
            flagged = changes = np.zeros(len(points), dtype=bool)
            details: dict[str, Any] = {}
            used: float | None = threshold
            if (fit == "reference" and (k < 2 or n_scored < 1)) or len(points) < 3:
                details["status"] = "insufficient_data"
            else:
                try:
                    res = score_series(method, values, k, fit, threshold, period)
                except ValueError as exc:
                    raise _invalid("method", str(exc)) from exc
                scores, lower, upper, flagged, changes = res.scores, res.lower, res.upper, res.flagged, res.changes
                used, details = res.threshold, res.details
            hits = changes if change else flagged
            out = tuple(
                AnomalyPoint(p.bucket, float(p.value or 0.0), p.n, i < k, _f(scores[i]), _f(lower[i]), _f(upper[i]),
                             bool(flagged[i]), bool(changes[i]))
                for i, p in enumerate(points)
            )
            anomalies = tuple(p.bucket for p, h in zip(points, hits, strict=True) if h)
            report = AnomalyReport(
                model, metric, "custom_metric" if custom else "model_metric", dict(filters or {}), method, "change" if change else "point",
                fit, start, end, gran.name, points[k].bucket if 0 < k < len(points) else None, k, n_scored, used,
                len(anomalies), anomalies, out, _json(details),
            )
            if persist:
                run = RunKey(info.id, "anomalies", start, end, run_key, version_id=version_id or 0,
                             segment=filters or None)
                await results_repo.replace_run(conn, run, _rows(report), None)
        return report


def _json(details: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = json_value(details)
    return value


def _rows(r: AnomalyReport) -> list[ResultRow]:
    return [ResultRow(r.metric, f"anomalies:{r.method}", float(r.n_anomalies), r.threshold, None,
                      "no_data" if r.details.get("status") else "warning" if r.n_anomalies else "ok", r.n_scored,
                      {"anomalies": [t.isoformat() for t in r.anomalies[:100]], "kind": r.kind, "fit": r.fit,
                       "granularity": r.granularity, "source": r.source})]
