"""Time series of derived metrics, custom metrics and feature histograms, read from the 1m / 1h / 1d
windows (never from raw rows, except for the not-yet-refreshed tail, which the reads merge in).

`WindowsService(uow)`, on the caller's unit of work (one snapshot per call):
- `model_metrics(model, start, end, granularity="auto", group_by=None, metrics=None) -> MetricSeries`
- `custom_metrics(name, start, end, granularity="auto", model=None, group_by=None) -> CustomMetricSeries`
- `feature_histograms(model, start, end, granularity="auto", features=None) -> FeatureHistogramSeries`

Granularity "auto" picks 1m up to 6 hours, 1h up to 31 days, else 1d. `group_by` is "version" or one of
the model's declared dimensions (segment keys); custom metrics group by a tag key. The results are msgspec
Structs: the API serves them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec
import numpy as np

from engine.domain import FeatureBaseline, ModelSpec
from engine.errors import RowError, ValidationError
from engine.store import models_repo
from engine.store.feature_bins import active_baselines
from engine.store.unit import UnitOfWork
from engine.store.window_reads import GroupBy, WindowRead, read_windows
from engine.windows.catalog import metric_names, needed_columns
from engine.windows.derive_batch import derive_batch
from engine.windows.spec import (
    FEATURES,
    LEVELS,
    METRICS,
    PREDICTIONS,
    PREDICTIONS_BY_MODEL,
    PREDICTIONS_BY_VERSION,
    LevelName,
)

GRANULARITIES = ("auto", "1m", "1h", "1d")
MAX_POINTS = 50_000
_TAG_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def choose_level(start: datetime, end: datetime, granularity: str) -> LevelName:
    if granularity not in GRANULARITIES:
        raise ValidationError([RowError(None, "granularity", f"must be one of {', '.join(GRANULARITIES)}")])
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError([RowError(None, "start/end", "timestamps must be timezone-aware")])
    if end <= start:
        raise ValidationError([RowError(None, "end", "must be after start")])
    span = end - start
    if granularity == "auto":
        return "1m" if span <= timedelta(hours=6) else "1h" if span <= timedelta(days=31) else "1d"
    level: LevelName = granularity  # type: ignore[assignment]
    if span / LEVELS[level].width > MAX_POINTS:
        raise ValidationError(
            [
                RowError(
                    None,
                    "granularity",
                    f"{granularity} over {span} is more than {MAX_POINTS} buckets; use a coarser granularity",
                )
            ]
        )
    return level


class MetricPoint(msgspec.Struct, frozen=True):
    bucket: datetime
    group: str | None
    values: dict[str, float | None]
    error_bounds: dict[str, float]
    per_class: dict[str, dict[str, float | None]]


class MetricSeries(msgspec.Struct, frozen=True):
    """Derived metrics per bucket (and group): `values` by metric name (null where the bucket has no data
    for it, e.g. accuracy before any label), `error_bounds` where a value is estimated from bins (ROC AUC,
    average precision, ECE, latency percentiles), `per_class` for the per-class rates."""

    model: str
    task: str
    granularity: LevelName
    start: datetime
    end: datetime
    group_by: str | None
    metrics: tuple[str, ...]
    points: tuple[MetricPoint, ...]


class CustomMetricPoint(msgspec.Struct, frozen=True):
    bucket: datetime
    group: str | None
    count: int
    mean: float | None
    std: float | None  # population standard deviation (ddof = 0)
    min: float | None
    max: float | None
    sum: float


class CustomMetricSeries(msgspec.Struct, frozen=True):
    name: str
    model: str | None
    granularity: LevelName
    group_by: str | None
    points: tuple[CustomMetricPoint, ...]


class FeatureHistogramPoint(msgspec.Struct, frozen=True):
    bucket: datetime
    feature: str
    n: int
    missing: int
    out_of_range: int
    counts: tuple[int, ...]


class FeatureHistogramSeries(msgspec.Struct, frozen=True):
    """Per-bucket counts of each feature in the bins of its active baseline (`baselines`)."""

    model: str
    granularity: LevelName
    baselines: tuple[FeatureBaseline, ...]
    points: tuple[FeatureHistogramPoint, ...]


class WindowsService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def model_metrics(
        self,
        model: str,
        start: datetime,
        end: datetime,
        granularity: str = "auto",
        group_by: str | None = None,
        metrics: Sequence[str] | None = None,
    ) -> MetricSeries:
        level = choose_level(start, end, granularity)
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            wanted = _wanted_metrics(info, metrics)
            group: GroupBy | None = None
            if group_by == "version":
                group = GroupBy("version")
            elif group_by is not None:
                if group_by not in info.dimensions:
                    allowed = ", ".join(("version", *info.dimensions))
                    raise ValidationError(
                        [
                            RowError(
                                None,
                                "group_by",
                                f"{group_by!r} is not a declared dimension of {model}; use one of: {allowed}",
                            )
                        ]
                    )
                group = GroupBy("segment", group_by)
            # The coarsest relation that still has the grouping key holds the same state in the fewest rows.
            source = {None: PREDICTIONS_BY_MODEL, "version": PREDICTIONS_BY_VERSION}.get(group_by, PREDICTIONS)
            family = source.subset(needed_columns(set(wanted)))
            [merged] = await read_windows(snap, [WindowRead(family, level, info.id, start, end, group)])
            versions: dict[str, str] = {}
            if group_by == "version":
                versions = {str(v.id): v.version for v in await models_repo.list_versions(snap.conn, info.id)}
        derived = derive_batch(info, merged, LEVELS[level].width.total_seconds(), set(wanted))
        groups = [versions.get(g, g) for g in merged.groups] if group_by == "version" else merged.groups
        points = tuple(
            MetricPoint(bucket, g, d.values, d.error_bounds, d.per_class)
            for bucket, g, d in zip(merged.buckets, groups, derived, strict=True)
        )
        return MetricSeries(model, info.task, level, start, end, group_by, wanted, points)

    async def custom_metrics(
        self,
        name: str,
        start: datetime,
        end: datetime,
        granularity: str = "auto",
        model: str | None = None,
        group_by: str | None = None,
    ) -> CustomMetricSeries:
        level = choose_level(start, end, granularity)
        if group_by is not None and (not group_by or not set(group_by) <= _TAG_KEY_CHARS):
            raise ValidationError([RowError(None, "group_by", "a tag key: letters, digits, '_', '-', '.'")])
        group = GroupBy("tag", group_by) if group_by is not None else None
        async with self.uow.snapshot() as snap:
            model_id = (await models_repo.get_model(snap.conn, model)).id if model is not None else None
            read = WindowRead(METRICS, level, model_id, start, end, group, metric_name=name)
            [m] = await read_windows(snap, [read])
        if not m.buckets:
            return CustomMetricSeries(name, model, level, group_by, ())
        c = m.columns
        n = c["n"]
        safe = n.clip(min=1)
        mean = c["value_sum"] / safe
        var = (c["value_sumsq"] / safe - mean * mean).clip(min=0.0)
        points = tuple(
            CustomMetricPoint(
                bucket,
                grp,
                int(k),
                mu if k else None,
                sd if k else None,
                lo if lo == lo else None,
                hi if hi == hi else None,
                total,
            )
            for bucket, grp, k, mu, sd, lo, hi, total in zip(
                m.buckets,
                m.groups,
                n.tolist(),
                mean.tolist(),
                (var**0.5).tolist(),
                c["value_min"].tolist(),
                c["value_max"].tolist(),
                c["value_sum"].tolist(),
                strict=True,
            )
        )
        return CustomMetricSeries(name, model, level, group_by, points)

    async def feature_histograms(
        self,
        model: str,
        start: datetime,
        end: datetime,
        granularity: str = "auto",
        features: Sequence[str] | None = None,
    ) -> FeatureHistogramSeries:
        level = choose_level(start, end, granularity)
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            baselines = tuple(
                b for b in await active_baselines(snap.conn, info.id) if features is None or b.feature in features
            )
            if not baselines:
                return FeatureHistogramSeries(model, level, (), ())
            read = WindowRead(
                FEATURES, level, info.id, start, end, GroupBy("feature"), baseline_ids=tuple(b.id for b in baselines)
            )
            [m] = await read_windows(snap, [read])
        if not m.buckets:
            return FeatureHistogramSeries(model, level, baselines, ())
        c = m.columns
        counts = c["counts"]
        # one row per (bucket, feature): features with different bin counts arrive as a list of arrays
        rows = counts.tolist() if isinstance(counts, np.ndarray) else [x.tolist() if x is not None else [] for x in counts]
        points = tuple(
            FeatureHistogramPoint(bucket, feature, int(k), int(miss), int(oor), tuple(cs))
            for bucket, feature, k, miss, oor, cs in zip(
                m.buckets, m.groups, c["n"].tolist(), c["missing"].tolist(), c["out_of_range"].tolist(), rows,
                strict=True,
            )
        )
        return FeatureHistogramSeries(model, level, baselines, points)


def _wanted_metrics(info: ModelSpec, metrics: Sequence[str] | None) -> tuple[str, ...]:
    known = metric_names(info.task)
    wanted = tuple(metrics) if metrics else known
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise ValidationError(
            [
                RowError(
                    None,
                    "metrics",
                    f"unknown for a {info.task} model: {', '.join(unknown)}; known: {', '.join(known)}",
                )
            ]
        )
    return wanted
