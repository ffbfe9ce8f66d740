"""Trend of a metric series over [start, end): a model metric derived per bucket from the prediction windows
(exact, real-time), or a custom metric's bucket means from the metric windows → `engine.algorithms.trend`:
least-squares slope with its t confidence interval and p-value, and Mann–Kendall with Sen's slope →
direction improving / stable / degrading, aware of whether higher is better for the metric (from the
performance registries and the windows' catalogue; for a custom metric the caller says) → a typed report,
persisted on request as `analysis_results` rows (analysis "trend").

Slopes are per day. Buckets without a value, or resting on fewer than `min_bucket_samples` rows, are left out;
fewer than `min_samples` points (seed 004's `min_samples_for_trend`, 10) give direction "insufficient_data".
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from engine.algorithms.performance.registry import metric_higher_is_better
from engine.algorithms.trend import TREND_METHODS, TrendResult, assess_trend
from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.services.analyses.drift_scope import resolve_scope
from engine.services.analyses.window_state import metric_series
from engine.services.window_params import choose_granularity
from engine.services.windows import WindowsService
from engine.store import models_repo, results_repo
from engine.store.results_repo import ResultRow, RunKey
from engine.store.unit import Snapshot, UnitOfWork
from engine.windows.catalog import metric_names
from engine.windows.spec import Granularity

# Window metrics the performance registries do not rank: lower is better for delays, latencies, losses and
# errors; None where neither direction is worse (volumes, means).
_LOWER = ("latency_", "label_delay_", "ece", "log_loss", "brier", "mape", "smape", "rmse")
MIN_SAMPLES = 10


def higher_is_better(metric: str) -> bool | None:
    known = metric_higher_is_better(metric)
    if known is not None:
        return known
    if metric.startswith(_LOWER):
        return False
    if metric in ("label_coverage", "balanced_accuracy", "r2") or metric.startswith(("precision", "recall", "f1")):
        return True
    return None


class SeriesPoint(msgspec.Struct, frozen=True):
    bucket: datetime
    value: float | None
    n: int


class TrendTest(msgspec.Struct, frozen=True):
    method: str  # linear | mann_kendall
    n: int
    slope_per_day: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    statistic: float | None
    # improving | stable | degrading | insufficient_data | undetermined; increasing | decreasing when no side is
    # better (a custom metric without higher_is_better, counts, means)
    direction: str
    details: dict[str, float | str | None]  # counts as numbers (one JSON type: no int/number ambiguity)


class TrendReport(msgspec.Struct, frozen=True):
    model: str
    metric: str
    source: str  # model_metric | custom_metric
    filters: dict[str, str]
    start: datetime
    end: datetime
    granularity: str
    higher_is_better: bool | None
    alpha: float
    min_samples: int
    min_bucket_samples: int
    tests: tuple[TrendTest, ...]
    direction: str  # Mann–Kendall's (robust to outliers and non-linear monotone trends)
    points: tuple[SeriesPoint, ...]


def _f(v: float) -> float | None:
    return v if v == v and abs(v) != float("inf") else None


def _test(r: TrendResult) -> TrendTest:
    details: dict[str, float | str | None] = {
        k: v if isinstance(v, str) or v is None else _f(float(v)) for k, v in r.details.items()
        if isinstance(v, (int, float, str)) or v is None
    }
    return TrendTest(r.method, r.n, _f(r.slope), _f(r.ci_low), _f(r.ci_high), _f(r.p_value), _f(r.statistic),
                     r.direction, details)


def trend_tests(points: list[SeriesPoint], start: datetime, better: bool | None, alpha: float, min_samples: int,
                min_bucket_samples: int) -> tuple[TrendTest, ...]:
    """Both tests over the points kept (value present, enough rows), times in days from `start`."""
    kept = [p for p in points if p.value is not None and p.n >= min_bucket_samples]
    times = [(p.bucket - start).total_seconds() / 86400.0 for p in kept]
    values = [float(p.value) for p in kept if p.value is not None]
    out: list[TrendTest] = []
    for method in TREND_METHODS.names():
        r = assess_trend(values, higher_is_better=bool(better), times=times, method=method, alpha=alpha,
                         min_samples=min_samples)
        t = _test(r)
        if better is None and r.direction in ("improving", "degrading"):  # no better side: say which way
            t = msgspec.structs.replace(t, direction="increasing" if r.slope > 0 else "decreasing")
        out.append(t)
    return tuple(out)


async def read_points(
    uow: UnitOfWork, info: ModelSpec, metric: str, start: datetime, end: datetime, gran: Granularity, custom: bool,
    filters: dict[str, str] | None = None, version_id: int | None = None,
) -> list[SeriesPoint]:
    """The series: a model metric per bucket (value, rows it rests on; `filters`: segment key = value pairs)
    or a custom metric's bucket means."""
    segments = tuple(sorted((filters or {}).items()))
    for key, _ in segments:
        if custom or key not in info.dimensions:
            raise ValidationError([RowError(None, "filter", f"{key!r} is not a declared dimension of {info.name}"
                                            + (" (custom metrics have tags, not segments)" if custom else ""))])
    if custom and version_id is not None:
        raise ValidationError([RowError(None, "version", "custom metrics are not kept per model version")])
    if custom:
        series = await WindowsService(uow).custom_metrics(metric, start, end, gran.name, model=info.name)
        return [SeriesPoint(p.bucket, p.mean, p.count) for p in series.points]
    if metric not in metric_names(info.task):
        raise ValidationError([RowError(None, "metric", f"{metric!r} is not a {info.task} window metric; "
                                        f"known: {', '.join(metric_names(info.task))}")])
    buckets, values, sizes = await metric_series(Snapshot(uow.conn), info, start, end, gran, metric, segments,
                                                 version_id)
    return [SeriesPoint(b, v, n) for b, v, n in zip(buckets, values, sizes, strict=True)]


class TrendService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def trend(
        self, model: str, metric: str, start: datetime, end: datetime, *, granularity: str = "auto",
        custom: bool = False, higher_is_better_override: bool | None = None, alpha: float = 0.05,
        min_samples: int = MIN_SAMPLES, min_bucket_samples: int = 1, filters: dict[str, str] | None = None,
        persist: bool = False, run_key: str = "adhoc", version: str | None = None,
    ) -> TrendReport:
        errs = []
        if not 0 < alpha < 1:
            errs.append(RowError(None, "alpha", "in (0, 1)"))
        if not 3 <= min_samples <= 5000:
            errs.append(RowError(None, "min_samples", "3 to 5000"))
        if not 1 <= min_bucket_samples <= 10_000_000:
            errs.append(RowError(None, "min_bucket_samples", "1 to 10000000"))
        if errs:
            raise ValidationError(errs)
        gran = choose_granularity(start, end, granularity)
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            version_id = (await resolve_scope(conn, info, version, None)).version_id
            points = await read_points(self.uow, info, metric, start, end, gran, custom, filters, version_id)
            better = higher_is_better_override if higher_is_better_override is not None else (
                None if custom else higher_is_better(metric))
            if len(points) > 5000:
                raise ValidationError([RowError(None, "granularity", "more than 5000 points; use a coarser one")])
            tests = trend_tests(points, start, better, alpha, min_samples, min_bucket_samples)
            mk = next(t for t in tests if t.method == "mann_kendall")
            report = TrendReport(model, metric, "custom_metric" if custom else "model_metric", dict(filters or {}), start,
                                 end, gran.name,
                                 better, alpha, min_samples, min_bucket_samples, tests, mk.direction, tuple(points))
            if persist:
                run = RunKey(info.id, "trend", start, end, run_key, version_id=version_id or 0, segment=filters or None)
                await results_repo.replace_run(conn, run, _rows(report), None)
        return report


def _rows(r: TrendReport) -> list[ResultRow]:
    status = {"degrading": "warning", "insufficient_data": "no_data"}
    return [
        ResultRow(r.metric, f"slope:{t.method}", t.slope_per_day, r.alpha, None, status.get(t.direction, "ok"), t.n,
                  {"p_value": t.p_value, "ci": [t.ci_low, t.ci_high], "direction": t.direction,
                   "granularity": r.granularity, "source": r.source})
        for t in r.tests
    ]
