"""Time series of derived metrics, custom metrics and feature histograms, read from the 1m / 1h / 1d
windows (never from raw rows, except for the not-yet-refreshed tail, which the reader merges in).

`WindowsService(pool)`:
- `model_metrics(model, start, end, granularity="auto", group_by=None, metrics=None) -> MetricSeries`
- `custom_metrics(name, start, end, granularity="auto", model=None, group_by=None) -> CustomMetricSeries`
- `feature_histograms(model, start, end, granularity="auto", features=None) -> FeatureHistogramSeries`

Granularity "auto" picks 1m up to 6 hours, 1h up to 31 days, else 1d. `group_by` is "version" or one of
the model's declared dimensions (segment keys); custom metrics group by a tag key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from engine.errors import NotFoundError, RowError, ValidationError
from engine.store.sqlfiles import query
from engine.windows.derive import ModelInfo, metric_names, needed_columns
from engine.windows.derive_batch import derive_batch
from engine.windows.reader import WindowRead, read_windows_merged_snapshot, read_windows_snapshot
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


def _iso(t: datetime) -> str:
    return t.isoformat()


@dataclass(frozen=True, slots=True)
class MetricPoint:
    bucket: datetime
    group: str | None
    values: dict[str, float | None]
    error_bounds: dict[str, float]
    per_class: dict[str, dict[str, float | None]]

    def to_dict(self) -> dict[str, Any]:
        # The point's own dicts, not copies (a 30-day series has tens of thousands of them): for
        # serialising, not for mutating.
        return {
            "bucket": _iso(self.bucket),
            "group": self.group,
            "values": self.values,
            "error_bounds": self.error_bounds,
            "per_class": self.per_class,
        }


@dataclass(frozen=True, slots=True)
class MetricSeries:
    model: str
    task: str
    granularity: LevelName
    start: datetime
    end: datetime
    group_by: str | None
    metrics: tuple[str, ...]
    points: tuple[MetricPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "granularity": self.granularity,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "group_by": self.group_by,
            "metrics": list(self.metrics),
            "points": [p.to_dict() for p in self.points],
        }


@dataclass(frozen=True, slots=True)
class CustomMetricPoint:
    bucket: datetime
    group: str | None
    count: int
    mean: float | None
    std: float | None  # population standard deviation (ddof = 0)
    min: float | None
    max: float | None
    sum: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": _iso(self.bucket),
            "group": self.group,
            "count": self.count,
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "sum": self.sum,
        }


@dataclass(frozen=True, slots=True)
class CustomMetricSeries:
    name: str
    model: str | None
    granularity: LevelName
    group_by: str | None
    points: tuple[CustomMetricPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "granularity": self.granularity,
            "group_by": self.group_by,
            "points": [p.to_dict() for p in self.points],
        }


@dataclass(frozen=True, slots=True)
class FeatureHistogramPoint:
    bucket: datetime
    feature: str
    n: int
    missing: int
    out_of_range: int
    counts: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": _iso(self.bucket),
            "feature": self.feature,
            "n": self.n,
            "missing": self.missing,
            "out_of_range": self.out_of_range,
            "counts": list(self.counts),
        }


@dataclass(frozen=True, slots=True)
class FeatureBaseline:
    id: int
    feature: str
    kind: str
    edges: tuple[float, ...] | None
    categories: tuple[str, ...] | None
    lower: float | None
    upper: float | None
    reference_counts: tuple[int, ...] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "feature": self.feature,
            "kind": self.kind,
            "edges": list(self.edges) if self.edges is not None else None,
            "categories": list(self.categories) if self.categories is not None else None,
            "lower": self.lower,
            "upper": self.upper,
            "reference_counts": list(self.reference_counts) if self.reference_counts is not None else None,
        }


@dataclass(frozen=True, slots=True)
class FeatureHistogramSeries:
    model: str
    granularity: LevelName
    baselines: tuple[FeatureBaseline, ...]
    points: tuple[FeatureHistogramPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "granularity": self.granularity,
            "baselines": [b.to_dict() for b in self.baselines],
            "points": [p.to_dict() for p in self.points],
        }


class WindowsService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def _model(self, name: str) -> ModelInfo:
        async with self.pool.acquire() as conn:
            r = await conn.fetchrow(query("windows.select_model"), name)
        if r is None:
            raise NotFoundError(f"model {name!r} does not exist")
        return ModelInfo(
            r["id"],
            r["name"],
            r["task"],
            tuple(r["class_labels"]) if r["class_labels"] else None,
            r["threshold"],
            tuple(r["dimensions"]),
        )

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
        info = await self._model(model)
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
        group: str | None = None
        args: tuple[str, ...] = ()
        if group_by == "version":
            group = "version_id::text"
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
            group, args = "segment ->> {}", (group_by,)
        # The coarsest relation that still has the grouping key holds the same state in the fewest rows.
        source = {None: PREDICTIONS_BY_MODEL, "version": PREDICTIONS_BY_VERSION}.get(group_by, PREDICTIONS)
        family = source.subset(needed_columns(set(wanted)))
        read = WindowRead(family, level, info.id, start, end, group, group_args=args)
        [merged] = await read_windows_merged_snapshot(self.pool, [read])
        versions: dict[str, str] = {}
        if group_by == "version":
            async with self.pool.acquire() as conn:
                versions = {
                    str(r["id"]): r["version"]
                    for r in await conn.fetch(query("windows.select_versions"), info.id)
                }
        seconds = LEVELS[level].width.total_seconds()
        wanted_set = set(wanted)
        points = []
        derived = derive_batch(info, merged, seconds, wanted_set)
        for bucket, g, d in zip(merged.buckets, merged.groups, derived, strict=True):
            grp = versions.get(g, g) if group_by == "version" else g
            points.append(MetricPoint(bucket, grp, d.values, d.error_bounds, d.per_class))
        return MetricSeries(model, info.task, level, start, end, group_by, wanted, tuple(points))

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
        model_id = (await self._model(model)).id if model is not None else None
        group = None
        if group_by is not None:
            if not group_by.replace("_", "").replace("-", "").replace(".", "").isalnum():
                raise ValidationError(
                    [RowError(None, "group_by", "a tag key: letters, digits, '_', '-', '.'")]
                )
            group = f"tags ->> '{group_by}'"
        read = WindowRead(METRICS, level, model_id, start, end, group, "name = {}", (name,))
        [rows] = await read_windows_snapshot(self.pool, [read])
        points = []
        for r in rows:
            n = int(r["n"])
            mean = r["value_sum"] / n if n else None
            var = max(r["value_sumsq"] / n - mean * mean, 0.0) if n and mean is not None else None
            points.append(
                CustomMetricPoint(
                    r["bucket"],
                    r["grp"],
                    n,
                    mean,
                    var**0.5 if var is not None else None,
                    r["value_min"],
                    r["value_max"],
                    float(r["value_sum"] or 0.0),
                )
            )
        return CustomMetricSeries(name, model, level, group_by, tuple(points))

    async def feature_histograms(
        self,
        model: str,
        start: datetime,
        end: datetime,
        granularity: str = "auto",
        features: Sequence[str] | None = None,
    ) -> FeatureHistogramSeries:
        level = choose_level(start, end, granularity)
        info = await self._model(model)
        async with self.pool.acquire() as conn:
            brows = await conn.fetch(query("windows.select_active_baselines"), info.id)
        baselines = tuple(
            FeatureBaseline(
                b["id"],
                b["feature"],
                b["kind"],
                tuple(b["edges"]) if b["edges"] else None,
                tuple(b["categories"]) if b["categories"] else None,
                b["lower"],
                b["upper"],
                tuple(b["reference_counts"]) if b["reference_counts"] else None,
            )
            for b in brows
            if features is None or b["feature"] in features
        )
        if not baselines:
            return FeatureHistogramSeries(model, level, (), ())
        read = WindowRead(
            FEATURES,
            level,
            info.id,
            start,
            end,
            "feature",
            "baseline_id = ANY({}::int[])",
            ([b.id for b in baselines],),
        )
        [rows] = await read_windows_snapshot(self.pool, [read])
        points = tuple(
            FeatureHistogramPoint(
                r["bucket"],
                r["grp"],
                int(r["n"]),
                int(r["missing"]),
                int(r["out_of_range"]),
                tuple(int(c) for c in r["counts"]),
            )
            for r in rows
        )
        return FeatureHistogramSeries(model, level, baselines, points)
