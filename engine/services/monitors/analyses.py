"""What a monitor can run: each kind names the existing analysis service it calls, with typed parameters
(defaults from the seeds). The statistics live in those services; a monitor only chooses the window, the
parameters and the run key its results are stored under (`monitor:<name>`), so a re-run replaces them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from croniter import croniter

from engine.algorithms.degradation import DEFAULT_THRESHOLDS, DegradationConfig
from engine.domain import ModelSpec
from engine.services.analyses.anomalies import AnomalyService
from engine.services.analyses.degradation import DegradationService
from engine.services.analyses.drift import DriftService
from engine.services.analyses.quality import QualityService
from engine.services.analyses.trend import TrendService
from engine.services.analyses.window_state import window_metrics
from engine.store.unit import Snapshot, UnitOfWork
from engine.windows.catalog import metric_names

MAX_LOOKBACK_WINDOWS = 168


class DriftParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    methods: tuple[str, ...] | None = None
    features: tuple[str, ...] | None = None
    rule: Literal["sustained", "classic"] = "sustained"
    threshold: float | None = None
    alpha: float = 0.05  # seed 002: drift_threshold (p-value)
    drift_share: float = 0.5


class QualityParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_missing_rate: float = 0.05
    max_out_of_range_rate: float = 0.05
    max_staleness_s: float | None = None
    rules: tuple[dict[str, Any], ...] = ()


class DegradationParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # seed 004: degradation_thresholds (relative, per metric) and auto_retraining_threshold
    thresholds: dict[str, float] = msgspec.field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    retrain_at: float = 0.15
    min_samples: int = 30
    # labels arrive late: each run also re-evaluates the degradation of this many earlier windows of the
    # schedule (their results are replaced, so re-running is harmless); 0: only the window itself
    lookback_windows: Annotated[int, msgspec.Meta(ge=0, le=MAX_LOOKBACK_WINDOWS)] = 0


class TrendParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    metric: str | None = None  # default: accuracy (classifiers) / mae (regression)
    lookback_days: int = 30  # seed 004: performance_window_days
    granularity: str = "1d"
    min_samples: int = 10  # seed 004: min_samples_for_trend
    alpha: float = 0.05


class AnomaliesParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    metric: str | None = None  # default: count
    method: str = "mad"
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class MonitorWindow:
    """What one run sees: the model, the window, the monitor's version and segment filter and its run key."""

    model: ModelSpec
    start: datetime
    end: datetime
    granularity: str
    segment: dict[str, str]
    run_key: str
    version: str | None = None
    version_id: int | None = None
    # the schedule (windows end every `every_seconds`, or on the cron's ticks) and the run's sample threshold
    every_seconds: int | None = None
    cron: str | None = None
    min_samples: int = 1

    def earlier(self, n: int) -> list[tuple[datetime, datetime]]:
        """The `n` windows of the schedule before this one, newest first (same span)."""
        span, out, end = self.end - self.start, [], self.end
        for _ in range(n):
            if self.every_seconds is not None:
                end = end - timedelta(seconds=self.every_seconds)
            elif self.cron is not None:
                end = croniter(self.cron, end).get_prev(datetime).astimezone(UTC).replace(fold=0)
            else:
                end = end - span
            out.append((end - span, end))
        return out


Runner = Callable[[UnitOfWork, MonitorWindow, Any], Awaitable[int | None]]  # → rows the analysis rested on


def primary_metric(model: ModelSpec) -> str:
    return "accuracy" if model.is_classifier else "mae"


def _metric(model: ModelSpec, metric: str | None) -> str:
    return metric or primary_metric(model)


async def _drift(uow: UnitOfWork, w: MonitorWindow, p: DriftParams) -> int | None:
    r = await DriftService(uow).drift(w.model.name, w.start, w.end, methods=p.methods, features=p.features,
                                      rule=p.rule, threshold=p.threshold, alpha=p.alpha, drift_share=p.drift_share,
                                      version=w.version, filters=w.segment or None, persist=True, run_key=w.run_key)
    return max((f.n_current for f in r.features), default=None)


async def _quality(uow: UnitOfWork, w: MonitorWindow, p: QualityParams) -> int | None:
    r = await QualityService(uow).quality(w.model.name, w.start, w.end, rules=list(p.rules) or None,
                                          max_missing_rate=p.max_missing_rate,
                                          max_out_of_range_rate=p.max_out_of_range_rate,
                                          max_staleness_s=p.max_staleness_s, persist=True, run_key=w.run_key)
    return r.n


async def _degradation(uow: UnitOfWork, w: MonitorWindow, p: DegradationParams) -> int | None:
    cfg = DegradationConfig(thresholds=p.thresholds, retrain_at=p.retrain_at)
    svc = DegradationService(uow)
    r = await svc.degradation(w.model.name, w.start, w.end, filters=w.segment or None, min_samples=p.min_samples,
                              persist=True, run_key=w.run_key, config=cfg, version=w.version)
    # windows closed earlier whose labels may have come in since: judged again with what is stored now; a
    # window below the monitor's min_samples keeps its "no data" rows
    for start, end in w.earlier(p.lookback_windows):
        seen = await window_metrics(Snapshot(uow.conn), w.model, start, end, {"count"},
                                    tuple(sorted(w.segment.items())), w.version_id)
        if seen is not None and int(seen.values.get("count") or 0) >= w.min_samples:
            await svc.degradation(w.model.name, start, end, filters=w.segment or None, min_samples=p.min_samples,
                                  persist=True, run_key=w.run_key, config=cfg, version=w.version)
    return max((m.n_current for m in r.metrics), default=None)


async def _trend(uow: UnitOfWork, w: MonitorWindow, p: TrendParams) -> int | None:
    r = await TrendService(uow).trend(w.model.name, _metric(w.model, p.metric), w.end - timedelta(days=p.lookback_days),
                                      w.end, granularity=p.granularity, alpha=p.alpha, min_samples=p.min_samples,
                                      filters=w.segment or None, version=w.version, persist=True, run_key=w.run_key)
    return sum(pt.n for pt in r.points)


async def _anomalies(uow: UnitOfWork, w: MonitorWindow, p: AnomaliesParams) -> int | None:
    r = await AnomalyService(uow).anomalies(w.model.name, p.metric or "count", w.start, w.end, method=p.method,
                                            granularity=w.granularity, threshold=p.threshold,
                                            filters=w.segment or None, version=w.version, persist=True,
                                            run_key=w.run_key)
    return sum(pt.n for pt in r.points)


@dataclass(frozen=True, slots=True)
class AnalysisKind:
    params: type[msgspec.Struct]
    run: Runner
    # what the analysis needs beyond predictions; a default monitor includes it only when the model has it
    needs: Literal["baseline", "labelled_baseline", "nothing"]
    # whether it reads only the rows of the monitor's `version` / `segment`; one that cannot is refused with them
    scoped: bool = True


KINDS: dict[str, AnalysisKind] = {
    "drift": AnalysisKind(DriftParams, _drift, "baseline"),
    # quality reads the feature windows, refused rows and freshness of the whole model: not scoped
    "quality": AnalysisKind(QualityParams, _quality, "nothing", scoped=False),
    "degradation": AnalysisKind(DegradationParams, _degradation, "labelled_baseline"),
    "trend": AnalysisKind(TrendParams, _trend, "nothing"),
    "anomalies": AnalysisKind(AnomaliesParams, _anomalies, "nothing"),
}


def metric_params_errors(model: ModelSpec, kind: str, params: msgspec.Struct) -> str | None:
    """A trend / anomalies metric the model's task does not have (checked when the monitor is saved)."""
    metric = getattr(params, "metric", None)
    if kind in ("trend", "anomalies") and metric is not None and metric not in metric_names(model.task):
        return f"{metric!r} is not a {model.task} window metric; known: {', '.join(metric_names(model.task))}"
    return None
