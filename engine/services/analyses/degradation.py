"""Performance of a window against the baseline's reference metrics: the window's metrics from the
prediction windows merged into one bucket (exact, real-time; with the sample size each rests on and Wilson
intervals for the proportions) → `engine.algorithms.degradation` (seed thresholds: accuracy / F1 / precision /
recall −5 %, ROC AUC −3 %, MSE / MAE +10 %, others 5 %; severities minor 5–10 %, moderate 10–20 %, critical
above 20 %; retraining from 15 %) → a typed report, persisted as `analysis_results` rows (analysis
"degradation") in the same transaction. A metric resting on fewer than `min_samples` rows is reported but not
judged (status "insufficient_samples").

`performance_summary(days)`, as the seed tracker's `get_performance_summary`: the rows and labels of the last
`days` days, the metrics over them, the daily trend of the primary metric (accuracy, or MAE for regression;
Mann–Kendall with Sen's slope, direction-aware) and the degradation alerts stored for windows in that span.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import msgspec

from engine.algorithms.degradation import DegradationConfig, assess_metric
from engine.algorithms.trend import assess_trend
from engine.errors import NotFoundError, RowError, ValidationError
from engine.services.analyses.drift_scope import resolve_scope
from engine.services.analyses.window_state import metric_series, sample_size, window_metrics
from engine.store import baselines_repo, models_repo, results_repo
from engine.store.results_repo import ResultRow, RunKey
from engine.store.unit import Snapshot, UnitOfWork
from engine.windows.catalog import SAMPLE_BASIS, metric_names
from engine.windows.spec import GRANULARITIES, LEVELS

MIN_SAMPLES = 30
MAX_DAYS = 366


class MetricComparison(msgspec.Struct, frozen=True):
    metric: str
    baseline: float | None
    current: float | None
    interval: tuple[float, float] | None  # Wilson interval of the current value (proportions only)
    bound: float | None  # |current − exact| ≤ bound where the current value is estimated from bins (ROC AUC)
    n_baseline: int
    n_current: int  # rows the current value rests on
    sample_basis: str
    relative_degradation: float | None  # positive = worse; null when not computable
    threshold: float
    degraded: bool
    severity: str  # none | minor | moderate | critical
    retrain: bool
    status: str  # ok | degraded | insufficient_samples | no_data


class DegradationReport(msgspec.Struct, frozen=True):
    model: str
    start: datetime
    end: datetime
    baseline: str
    filters: dict[str, str]
    min_samples: int
    metrics: tuple[MetricComparison, ...]
    severity: str
    degraded: bool
    retrain: bool
    retrain_threshold: float


class TrendSummary(msgspec.Struct, frozen=True):
    metric: str
    method: str
    n: int
    slope_per_day: float | None
    p_value: float | None
    trend_direction: str


class DegradationSummary(msgspec.Struct, frozen=True):
    total_alerts: int  # degradation results stored for windows in the span with a degraded metric
    by_severity: dict[str, int]
    retrain_recommended: bool
    latest_window_end: datetime | None


class PerformanceSummary(msgspec.Struct, frozen=True):
    model: str
    days: int
    start: datetime
    end: datetime
    total_records: int
    labelled_records: int
    metrics: dict[str, float | None]
    performance_trend: TrendSummary
    degradation_summary: DegradationSummary


def _f(v: float) -> float | None:
    return v if v == v and abs(v) != float("inf") else None


def _check(start: datetime, end: datetime, min_samples: int) -> None:
    errs = []
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        errs.append(RowError(None, "start/end", "timezone-aware, end after start"))
    if not 1 <= min_samples <= 10_000_000:
        errs.append(RowError(None, "min_samples", "1 to 10000000"))
    if errs:
        raise ValidationError(errs)


class DegradationService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def degradation(
        self, model: str, start: datetime, end: datetime, *, baseline: str | None = None,
        filters: dict[str, str] | None = None, min_samples: int = MIN_SAMPLES, persist: bool = True,
        run_key: str = "adhoc", config: DegradationConfig | None = None, version: str | None = None,
    ) -> DegradationReport:
        _check(start, end, min_samples)
        cfg = config or DegradationConfig()
        segments = tuple(sorted((filters or {}).items()))
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            for key in dict(segments):
                if key not in info.dimensions:
                    raise ValidationError([RowError(None, "filter", f"{key!r} is not a declared dimension of {model}")])
            version_id = (await resolve_scope(conn, info, version, None)).version_id
            name = baseline or await baselines_repo.active_baseline_name(conn, info.id)
            if name is None:
                raise NotFoundError(f"model {model!r} has no active baseline; create one first")
            row = await baselines_repo.get_baseline(conn, info.id, name, chunks=False)
            perf: dict[str, Any] = (row.content or {}).get("performance", {})
            ref: dict[str, float | None] = perf.get("metrics", {})
            known = set(metric_names(info.task))
            wanted = {m for m in ref if m in known}
            if not wanted:
                raise ValidationError([RowError(None, "baseline", f"baseline {name!r} holds no reference metric "
                                                "(a labelled reference is needed)")])
            current = await window_metrics(Snapshot(conn), info, start, end, wanted, segments, version_id)
            out = []
            for m in sorted(wanted):
                base, cur = ref[m], current.values.get(m) if current else None
                n = sample_size(current, m) if current else 0
                interval = current.intervals.get(m) if current else None
                bound = current.error_bounds.get(m) if current else None
                args = (m, base, cur, (float(interval[0]), float(interval[1])) if interval else None,
                        float(bound) if bound is not None else None, int(perf.get("n", 0)), n,
                        SAMPLE_BASIS.get(m, "rows"))
                if base is None or cur is None:
                    out.append(MetricComparison(*args, None, cfg.threshold(m), False, "none", False, "no_data"))
                    continue
                a = assess_metric(m, base, cur, cfg)
                judged = n >= min_samples
                status = "insufficient_samples" if not judged else "degraded" if a.degraded else "ok"
                out.append(MetricComparison(*args, _f(a.relative_degradation), a.threshold, a.degraded and judged,
                                            a.severity if judged else "none", a.retrain and judged, status))
            order = ("none", "minor", "moderate", "critical")
            worst = max((order.index(c.severity) for c in out), default=0)
            report = DegradationReport(model, start, end, name, dict(segments), min_samples, tuple(out), order[worst],
                                       any(c.degraded for c in out), any(c.retrain for c in out), cfg.retrain_at)
            if persist:
                run = RunKey(info.id, "degradation", start, end, run_key, version_id=version_id or 0,
                             segment=dict(segments) or None)
                await results_repo.replace_run(conn, run, _rows(report), row.id)
        return report

    async def performance_summary(self, model: str, days: int, now: datetime) -> PerformanceSummary:
        if not 1 <= days <= MAX_DAYS:
            raise ValidationError([RowError(None, "days", f"1 to {MAX_DAYS}")])
        end = LEVELS["1m"].ceil(now)
        start = end - timedelta(days=days)
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            primary = "mae" if info.task == "regression" else "accuracy"
            names = {"count", "label_coverage", *(("mse", "mae", "rmse", "r2") if info.task == "regression" else
                                                  ("accuracy", "f1" if info.task == "binary" else "f1_macro"))}
            whole = await window_metrics(snap, info, start, end, names)
            _, values, sizes = await metric_series(snap, info, start, end, GRANULARITIES["1h" if days <= 2 else "1d"],
                                                   primary)
            rows = await results_repo.read_results(snap.conn, info.id, "degradation", start, end, 100_000)
        keep = [v if v is not None and n > 0 else float("nan") for v, n in zip(values, sizes, strict=True)]
        step = 1 / 24 if days <= 2 else 1.0
        trend = assess_trend(keep, higher_is_better=primary != "mae", times=[i * step for i in range(len(keep))],
                             min_samples=10)
        flagged = [r for r in rows if r["statistic"] == "relative_degradation" and r["status"] in ("warning", "critical")]
        by_sev: dict[str, int] = {}
        for r in flagged:
            sev = str((json.loads(r["details"]) if r["details"] else {}).get("severity", "minor"))
            by_sev[sev] = by_sev.get(sev, 0) + 1
        retrain = any(r["statistic"] == "retrain" and r["status"] == "critical" for r in rows)
        n = int(whole.values.get("count") or 0) if whole else 0
        metrics = {k: v for k, v in (whole.values if whole else {}).items() if k not in ("count", "label_coverage")}
        return PerformanceSummary(
            model, days, start, end, n, int(whole.sample_sizes.get("labelled", 0)) if whole else 0, metrics,
            TrendSummary(primary, trend.method, trend.n, _f(trend.slope), _f(trend.p_value), trend.direction),
            DegradationSummary(len(flagged), by_sev, retrain,
                               max((r["window_end"] for r in rows), default=None)),
        )


# analysis_results.status: a degraded metric is "critical" at critical severity, else "warning"
_STORED = {
    "ok": lambda c: "ok",
    "degraded": lambda c: "critical" if c.severity == "critical" else "warning",
    "insufficient_samples": lambda c: "info",
    "no_data": lambda c: "no_data",
}


def _rows(r: DegradationReport) -> list[ResultRow]:
    rows = [
        ResultRow(c.metric, "relative_degradation", c.relative_degradation, c.threshold, None, _STORED[c.status](c),
                  c.n_current,
                  {"baseline": c.baseline, "current": c.current, "severity": c.severity, "retrain": c.retrain,
                   "bound": c.bound,
                   "interval": list(c.interval) if c.interval else None, "n_baseline": c.n_baseline})
        for c in r.metrics
    ]
    rows.append(ResultRow("*", "retrain", float(r.retrain), r.retrain_threshold, None,
                          "critical" if r.retrain else "ok", None, {"severity": r.severity, "baseline": r.baseline}))
    return rows
