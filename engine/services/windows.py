"""Time series of derived metrics, custom metrics and feature histograms, read from the 1m / 1h / 1d
windows (never from raw rows, except for the not-yet-refreshed tail, which the reads merge in).

`WindowsService(uow)`, on the caller's unit of work (one snapshot per call):
- `model_metrics(model, start, end, granularity="auto", group_by=None, metrics=None) -> MetricSeries`
- `custom_metrics(name, start, end, granularity="auto", model=None, group_by=None) -> CustomMetricSeries`
- `feature_histograms(model, start, end, granularity="auto", features=None) -> FeatureHistogramSeries`

Every read answers exactly [start, end), to the microsecond (the series echo the range answered): a bucket
only partly inside the range holds only the part inside, rebuilt from finer windows and raw rows (a bound
inside a minute: that minute's raw rows inside the range). Granularities: the stored levels 1m / 1h / 1d and multiples of them (5m,
15m, 6h, 1w); "auto" picks the finest whose bucket count stays within a point limit (`window_params.AUTO_POINTS`, or the
caller's `max_points`). `group_by` is "version" or one of the model's declared dimensions (segment keys);
`filters` keep only rows with the given segment values; custom metrics group by a tag key. The results are
msgspec Structs: the API serves them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import numpy as np

from engine.algorithms.stats.proportions import DEFAULT_CONFIDENCE, INTERVAL_METHOD
from engine.domain import FeatureBaseline
from engine.services.window_columns import IntervalMethod, MetricColumns, build_groups
from engine.services.window_params import (
    TAG_KEY_CHARS,
    bucket_seconds,
    choose_granularity,
    count_matrix,
    group_keys,
    group_labels,
    invalid,
    wanted_metrics,
)
from engine.store import models_repo
from engine.store.feature_bins import active_baselines
from engine.store.unit import UnitOfWork
from engine.store.window_reads import GroupBy, WindowRead, covered, read_windows
from engine.windows.catalog import SAMPLE_BASIS, needed_columns
from engine.windows.derive_batch import DerivedColumns, assemble_parts, derive_columns
from engine.windows.spec import (
    FEATURES,
    METRICS,
    PREDICTIONS,
    PREDICTIONS_BY_MODEL,
    PREDICTIONS_BY_VERSION,
)
from engine.windows.wire_rows import assemble_wire


class MetricPoint(msgspec.Struct, frozen=True, omit_defaults=True):
    bucket: datetime
    group: str | dict[str, str | None] | None  # one key's value, or each key's value for several keys
    values: dict[str, float | None]
    error_bounds: dict[str, float]
    per_class: dict[str, dict[str, float | None]]
    intervals: dict[str, tuple[float, float]]
    per_class_intervals: dict[str, dict[str, tuple[float, float]]]
    sample_sizes: dict[str, int]
    # with include=confusion_matrix: labelled rows by actual class (rows) and predicted class (columns),
    # both in the series' `class_labels` order
    confusion_matrix: tuple[tuple[int, ...], ...] | None = None
    # with include=class_distribution: predictions per predicted class (labelled or not)
    predicted_classes: dict[str, int] | None = None


class MetricSeries(msgspec.Struct, frozen=True):
    """Derived metrics per bucket (and group) over exactly [start, end) (`start`/`end` echo
    the range answered; the first and last bucket may be partial, and throughput divides by the seconds
    covered): `values` by metric name (null where the bucket has no data for it, e.g. accuracy before any
    label; counts are integers), `error_bounds` where a value is estimated from bins (ROC AUC, average
    precision, ECE, latency percentiles), `per_class` for the per-class rates, `intervals` (and
    `per_class_intervals`) the confidence intervals of the proportions (`interval`), `sample_sizes` the
    number of rows each metric rests on, by the basis `sample_basis` names for each metric (e.g. accuracy:
    "labelled", the labelled rows)."""

    model: str
    task: str
    granularity: str
    start: datetime
    end: datetime
    requested_start: datetime
    requested_end: datetime
    group_by: str | None
    filters: dict[str, str]
    metrics: tuple[str, ...]
    sample_basis: dict[str, str]
    interval: IntervalMethod
    class_labels: tuple[str, ...] | None
    points: tuple[MetricPoint, ...]


INCLUDES = ("confusion_matrix", "class_distribution")


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
    """A custom metric per bucket over exactly [start, end) (edge buckets may be partial)."""

    name: str
    model: str | None
    granularity: str
    start: datetime
    end: datetime
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
    """Per-bucket counts of each feature in the bins of its active baseline (`baselines`), over exactly
    [start, end) (edge buckets may be partial)."""

    model: str
    granularity: str
    start: datetime
    end: datetime
    baselines: tuple[FeatureBaseline, ...]
    points: tuple[FeatureHistogramPoint, ...]


@dataclass(frozen=True, slots=True)
class _MetricRead:
    """What both forms of a metric series are built from."""

    header: dict[str, Any]  # MetricSeries' fields but `points`
    buckets: list[datetime]
    groups: list[Any]  # as read (for grouping)
    labels: list[Any]  # what each element's `group` says
    derived: DerivedColumns
    confusion: list[Any] | None
    predicted: list[Any] | None


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
        filters: Mapping[str, str] | None = None,
        max_points: int | None = None,
        include: Sequence[str] = (),
        wire: bool = False,
    ) -> MetricSeries:
        """With `wire`, for encoding only (what the REST answer does): each point's dict-valued parts are
        msgspec Structs that encode as the same JSON objects, several times cheaper to build
        (`engine.windows.wire_rows`); they are not dicts."""
        r = await self._metric_read(model, start, end, granularity, group_by, metrics, filters, max_points, include)
        size = len(r.buckets)
        confusion = r.confusion or [None] * size
        predicted = r.predicted or [None] * size
        parts = assemble_wire(r.derived) if wire else assemble_parts(r.derived)
        values, bounds, per_class, intervals, pc_intervals, sizes = parts
        points = tuple(map(
            MetricPoint, r.buckets, r.labels, values, bounds, per_class, intervals, pc_intervals, sizes, confusion,
            predicted,
        ))
        return MetricSeries(**r.header, points=points)

    async def model_metric_columns(
        self,
        model: str,
        start: datetime,
        end: datetime,
        granularity: str = "auto",
        group_by: str | None = None,
        metrics: Sequence[str] | None = None,
        filters: Mapping[str, str] | None = None,
        max_points: int | None = None,
        include: Sequence[str] = (),
    ) -> MetricColumns:
        """`model_metrics` in the columnar form: per group, arrays over its buckets."""
        r = await self._metric_read(model, start, end, granularity, group_by, metrics, filters, max_points, include)
        series = build_groups(r.derived, r.buckets, r.groups, r.labels, r.confusion, r.predicted)
        return MetricColumns(format="columns", **r.header, series=series)

    async def _metric_read(
        self,
        model: str,
        start: datetime,
        end: datetime,
        granularity: str,
        group_by: str | None,
        metrics: Sequence[str] | None,
        filters: Mapping[str, str] | None,
        max_points: int | None,
        include: Sequence[str],
    ) -> _MetricRead:
        gran = choose_granularity(start, end, granularity, max_points)
        unknown = [i for i in include if i not in INCLUDES]
        if unknown:
            raise invalid("include", f"unknown: {', '.join(unknown)}; known: {', '.join(INCLUDES)}")
        level = gran.base
        segments = tuple(sorted((filters or {}).items()))
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            wanted = wanted_metrics(info, metrics)
            keys = group_keys(group_by)
            for key in keys:
                if key != "version" and key not in info.dimensions:
                    allowed = ", ".join(("version", *info.dimensions))
                    raise invalid(
                        "group_by", f"{key!r} is not a declared dimension of {model}; use one of: {allowed}"
                    )
            parts = tuple(GroupBy("version") if k == "version" else GroupBy("segment", k) for k in keys)
            group: GroupBy | tuple[GroupBy, ...] | None = (
                None if not parts else parts[0] if len(parts) == 1 else parts
            )
            for key in dict(segments):
                if key not in info.dimensions:
                    allowed = ", ".join(info.dimensions) or "none declared"
                    raise invalid("filter", f"{key!r} is not a declared dimension of {model} (declared: {allowed})")
            # The coarsest relation that still has the grouping key holds the same state in the fewest rows.
            source = PREDICTIONS_BY_MODEL if not keys else PREDICTIONS_BY_VERSION if keys == ("version",) else PREDICTIONS
            if segments:
                source = PREDICTIONS
            if include and not info.is_classifier:
                raise invalid("include", f"{', '.join(include)}: only for classifiers; {model} is a regression model")
            extra = {"confusion" if i == "confusion_matrix" else "class_counts" for i in include}
            family = source.subset(needed_columns(set(wanted)) | extra)
            read = WindowRead(family, level, info.id, start, end, group, granularity=gran.name, segments=segments)
            [merged] = await read_windows(snap, [read])
            versions: dict[str, str] = {}
            if "version" in keys:
                versions = {str(v.id): v.version for v in await models_repo.list_versions(snap.conn, info.id)}
        lo, hi = covered(start, end)
        seconds = bucket_seconds(merged.buckets, gran, lo, hi)
        derived = derive_columns(info, merged, seconds, set(wanted))
        groups = group_labels(keys, merged.groups, versions)
        size = len(merged)
        labels = tuple(info.class_labels or ())
        k = len(labels)
        confusion: list[Any] | None = None
        predicted: list[Any] | None = None
        if "confusion_matrix" in include and size:
            mat = count_matrix(merged.columns["confusion"], size, k * k + 2)[:, 1 : k * k + 1].reshape(size, k, k)
            confusion = [tuple(map(tuple, m)) for m in mat.tolist()]
        if "class_distribution" in include and size:
            mat = count_matrix(merged.columns["class_counts"], size, k + 2)[:, 1 : k + 1]
            predicted = [dict(zip(labels, row, strict=True)) for row in mat.tolist()]
        basis = {w: SAMPLE_BASIS[w] for w in wanted if w in SAMPLE_BASIS}
        header = {
            "model": model, "task": info.task, "granularity": gran.name, "start": lo, "end": hi,
            "requested_start": start, "requested_end": end, "group_by": group_by, "filters": dict(segments),
            "metrics": wanted, "sample_basis": basis, "interval": IntervalMethod(INTERVAL_METHOD, DEFAULT_CONFIDENCE),
            "class_labels": labels or None,
        }
        return _MetricRead(header, merged.buckets, merged.groups, groups, derived, confusion, predicted)

    async def custom_metrics(
        self,
        name: str,
        start: datetime,
        end: datetime,
        granularity: str = "auto",
        model: str | None = None,
        group_by: str | None = None,
    ) -> CustomMetricSeries:
        gran = choose_granularity(start, end, granularity)
        lo, hi = covered(start, end)
        if group_by is not None and (not group_by or not set(group_by) <= TAG_KEY_CHARS):
            raise invalid("group_by", "a tag key: letters, digits, '_', '-', '.'")
        group = GroupBy("tag", group_by) if group_by is not None else None
        async with self.uow.snapshot() as snap:
            model_id = (await models_repo.get_model(snap.conn, model)).id if model is not None else None
            read = WindowRead(METRICS, gran.base, model_id, start, end, group, metric_name=name, granularity=gran.name)
            [m] = await read_windows(snap, [read])
        if not m.buckets:
            return CustomMetricSeries(name, model, gran.name, lo, hi, group_by, ())
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
        return CustomMetricSeries(name, model, gran.name, lo, hi, group_by, points)

    async def feature_histograms(
        self,
        model: str,
        start: datetime,
        end: datetime,
        granularity: str = "auto",
        features: Sequence[str] | None = None,
    ) -> FeatureHistogramSeries:
        gran = choose_granularity(start, end, granularity)
        lo, hi = covered(start, end)
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            baselines = tuple(
                b for b in await active_baselines(snap.conn, info.id) if features is None or b.feature in features
            )
            if not baselines:
                return FeatureHistogramSeries(model, gran.name, lo, hi, (), ())
            read = WindowRead(
                FEATURES, gran.base, info.id, start, end, GroupBy("feature"),
                baseline_ids=tuple(b.id for b in baselines), granularity=gran.name,
            )
            [m] = await read_windows(snap, [read])
        if not m.buckets:
            return FeatureHistogramSeries(model, gran.name, lo, hi, baselines, ())
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
        return FeatureHistogramSeries(model, gran.name, lo, hi, baselines, points)
