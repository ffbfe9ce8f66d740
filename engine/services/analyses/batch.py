"""A tracked labelled batch (seed 004's `track_performance`): its metrics, computed on its stored rows with
the baseline's definitions (engine.services.baselines.content), and their degradation against the active
baseline's reference metrics with seed 004's thresholds, severities and retraining trigger
(engine.algorithms.degradation). Persisted in `analysis_results` (analysis `batch_performance`, run key =
the batch id) in the same transaction.

The batch is found by its prediction ids inside its time range (the rows the SDK logged), not by a time
window, so other traffic of the same minutes is not mixed in.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import msgspec
import numpy as np

from engine.algorithms.degradation import DEFAULT_THRESHOLDS, DegradationConfig, assess_degradation
from engine.errors import NotFoundError, RowError, ValidationError
from engine.services.baselines.content import ReferenceData, performance_of
from engine.store import baselines_repo, estimates_repo, models_repo, results_repo
from engine.store.results_repo import ResultRow, RunKey
from engine.store.unit import UnitOfWork

ANALYSIS = "batch_performance"
MAX_BATCH = 200_000


class BatchPerformanceRequest(msgspec.Struct, frozen=True):
    prediction_ids: list[str]
    start: datetime
    end: datetime  # inclusive: the batch's last prediction time
    batch_id: str
    version: str | None = None
    thresholds: dict[str, float] | None = None  # relative thresholds per metric (seed 004's defaults otherwise)
    retrain_at: float = 0.15


class MetricDegradationOut(msgspec.Struct, frozen=True):
    metric: str
    baseline: float | None
    current: float | None
    relative_degradation: float | None
    threshold: float
    degraded: bool
    severity: str
    retrain: bool


class BatchPerformance(msgspec.Struct, frozen=True):
    model: str
    task: str
    batch_id: str
    version: str | None
    start: datetime
    end: datetime
    sample_count: int  # rows of the batch found
    n_labelled: int  # rows with a label (the metrics' sample size)
    metrics: dict[str, float | None]
    baseline: str | None  # the active baseline judged against; null: none, so no degradation analysis
    reference_metrics: dict[str, float]
    degradation: tuple[MetricDegradationOut, ...]
    degradation_detected: bool
    severity: str  # worst severity: none | minor | moderate | critical
    retraining_recommended: bool
    unmatched: tuple[str, ...]  # metrics present in only one of batch / reference


def _f(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _floats(values: list[Any]) -> Any:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


class BatchPerformanceService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def evaluate(self, model: str, req: BatchPerformanceRequest, persist: bool = True) -> BatchPerformance:
        errs = []
        if not 1 <= len(req.prediction_ids) <= MAX_BATCH:
            errs.append(RowError(None, "prediction_ids", f"1 to {MAX_BATCH} ids"))
        if req.start.tzinfo is None or req.end.tzinfo is None or req.end < req.start:
            errs.append(RowError(None, "start/end", "timezone-aware, end not before start"))
        if not 1 <= len(req.batch_id) <= 200:
            errs.append(RowError(None, "batch_id", "1 to 200 characters"))
        if any(not (math.isfinite(v) and v > 0) for v in (req.thresholds or {}).values()) or not (
            math.isfinite(req.retrain_at) and req.retrain_at > 0
        ):
            errs.append(RowError(None, "thresholds", "positive relative thresholds"))
        if errs:
            raise ValidationError(errs)
        end = req.end + timedelta(microseconds=1)
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            version_id = None
            if req.version is not None:
                versions = {v.version: v.id for v in await models_repo.list_versions(conn, info.id)}
                if req.version not in versions:
                    raise NotFoundError(f"model {model!r} has no version {req.version!r}")
                version_id = versions[req.version]
            rows = await estimates_repo.batch_rows(conn, info.id, list(dict.fromkeys(req.prediction_ids)), req.start,
                                                   end, version_id)
            data = ReferenceData(
                numeric={}, categorical={}, times=[r["time"] for r in rows], score=_floats([r["score"] for r in rows]),
                probabilities=[list(r["probabilities"]) if r["probabilities"] is not None else None for r in rows],
                predicted_class=[r["predicted_class"] for r in rows],
                predicted_value=_floats([r["predicted_value"] for r in rows]),
                label_class=[r["label_class"] for r in rows], label_value=_floats([r["label_value"] for r in rows]),
                n_rows=len(rows),
            )
            perf: dict[str, Any] = performance_of(info, data) if rows else {"n": 0, "metrics": {}}
            metrics = {k: _f(v) for k, v in perf["metrics"].items()}
            active = await baselines_repo.active_baseline_name(conn, info.id)
            reference: dict[str, float] = {}
            baseline_id = None
            if active is not None:
                row = await baselines_repo.get_baseline(conn, info.id, active)
                baseline_id = row.id
                reference = {k: float(v) for k, v in ((row.content or {}).get("performance", {}).get("metrics", {}) or {}).items()
                             if v is not None}
            config = DegradationConfig(thresholds={**DEFAULT_THRESHOLDS, **(req.thresholds or {})},
                                       retrain_at=req.retrain_at)
            current = {k: v for k, v in metrics.items() if v is not None}
            report = assess_degradation(reference, current, config) if reference and current else None
            degradation = tuple(
                MetricDegradationOut(m.metric, _f(m.baseline), _f(m.current), _f(m.relative_degradation)
                                     if not math.isinf(m.relative_degradation) else None, m.threshold, m.degraded,
                                     m.severity, m.retrain)
                for m in (report.metrics if report is not None else ())
            )
            out = BatchPerformance(
                model, info.task, req.batch_id, req.version, req.start, req.end, len(rows), int(perf["n"]), metrics,
                active, reference, degradation, report.degraded if report is not None else False,
                report.severity if report is not None else "none",
                report.retrain if report is not None else False, report.unmatched if report is not None else (),
            )
            if persist and rows:
                await results_repo.replace_run(conn, RunKey(info.id, ANALYSIS, req.start, end, req.batch_id,
                                                            version_id or 0), _rows(out), baseline_id)
        return out


def _rows(b: BatchPerformance) -> list[ResultRow]:
    by = {d.metric: d for d in b.degradation}
    rows = []
    for name, value in b.metrics.items():
        d = by.get(name)
        status = "info" if d is None else "ok" if not d.degraded else "critical" if d.severity == "critical" else "warning"
        rows.append(ResultRow(name, "batch", value, d.threshold if d else None, None, status, b.n_labelled,
                              {"baseline": d.baseline, "relative_degradation": d.relative_degradation,
                               "severity": d.severity, "retrain": d.retrain} if d else None))
    rows.append(ResultRow("*", "retrain", 1.0 if b.retraining_recommended else 0.0, None, None,
                          "critical" if b.retraining_recommended else "ok", b.n_labelled,
                          {"severity": b.severity, "baseline": b.baseline}))
    return rows
