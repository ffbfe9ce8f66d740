"""One window's state as a single bucket: the buckets of a typed read summed with the family's merge rules
(counts and sums add, minima and maxima take the extreme), so a metric derived from it is the metric of the
whole window, exactly as the same computation over the window's raw rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from engine.domain import ModelSpec
from engine.services.window_params import bucket_seconds
from engine.store.unit import Snapshot
from engine.store.window_reads import WindowRead, covered, read_windows
from engine.windows.catalog import SAMPLE_BASIS, Derived, needed_columns
from engine.windows.derive_batch import derive_batch
from engine.windows.merge import Merged
from engine.windows.spec import PREDICTIONS, PREDICTIONS_BY_MODEL, Family, Granularity, LevelName


def window_level(start: datetime, end: datetime) -> LevelName:
    """The coarsest stored level both bounds are aligned to (fewest rows to read)."""

    def aligned(t: datetime, step: timedelta) -> bool:
        return (t - datetime(2000, 1, 3, tzinfo=t.tzinfo)) % step == timedelta(0)

    for level, step in (("1d", timedelta(days=1)), ("1h", timedelta(hours=1))):
        if aligned(start, step) and aligned(end, step):
            return level  # type: ignore[return-value]
    return "1m"


def collapse(family: Family, m: Merged, bucket: Any) -> Merged:
    """All buckets (and groups) of `m` merged into one."""
    columns: dict[str, Any] = {}
    present: dict[str, Any] = {}
    for col, how in family.state:
        if col not in m.columns:
            continue
        values = m.columns[col]
        present[col] = np.array([bool(np.any(m.present[col]))])
        if how in ("count", "sum"):
            columns[col] = np.array([np.sum(values)], dtype=values.dtype)
        elif how in ("min", "max"):
            finite = values[~np.isnan(values)]
            columns[col] = np.array([(np.min if how == "min" else np.max)(finite) if finite.size else np.nan])
        elif isinstance(values, np.ndarray):
            columns[col] = np.sum(values, axis=0, keepdims=True)
        else:
            parts = [v for v in values if v is not None]
            columns[col] = [np.sum(parts, axis=0) if parts else None]
    return Merged([bucket], [None], columns, present)


async def window_metrics(
    snap: Snapshot, info: ModelSpec, start: datetime, end: datetime, wanted: set[str],
    segments: tuple[tuple[str, str], ...] = (), version_id: int | None = None,
) -> Derived | None:
    """The model's metrics in `wanted` over the whole of [start, end), with sample sizes and
    Wilson intervals (of one version and segment values when given); None when the window holds no prediction."""
    source = PREDICTIONS if segments or version_id is not None else PREDICTIONS_BY_MODEL
    family = source.subset(needed_columns(wanted))
    read = WindowRead(family, window_level(start, end), info.id, start, end, segments=segments, version_id=version_id)
    [merged] = await read_windows(snap, [read])
    if not len(merged):
        return None
    lo, hi = covered(start, end)
    one = collapse(family, merged, lo)
    [derived] = derive_batch(info, one, (hi - lo).total_seconds(), wanted)
    return derived


async def metric_series(
    snap: Snapshot, info: ModelSpec, start: datetime, end: datetime, granularity: Granularity, metric: str,
    segments: tuple[tuple[str, str], ...] = (), version_id: int | None = None,
) -> tuple[list[datetime], list[float | None], list[int]]:
    """One model metric per bucket of `granularity` over [start, end): bucket starts, values (None where the
    bucket has no data for it) and the sample size each rests on."""
    source = PREDICTIONS if segments or version_id is not None else PREDICTIONS_BY_MODEL
    family = source.subset(needed_columns({metric}))
    read = WindowRead(family, granularity.base, info.id, start, end, granularity=granularity.name, segments=segments,
                      version_id=version_id)
    [merged] = await read_windows(snap, [read])
    lo, hi = covered(start, end)
    seconds = bucket_seconds(merged.buckets, granularity, lo, hi)
    derived = derive_batch(info, merged, seconds, {metric})
    values = [d.values.get(metric) for d in derived]
    sizes = [sample_size(d, metric) for d in derived]
    return list(merged.buckets), [None if v is None else float(v) for v in values], sizes


def sample_size(d: Derived, metric: str) -> int:
    """The number of rows `metric` rests on in `d` (its basis: rows, labelled rows, scored rows...)."""
    return int(d.sample_sizes.get(SAMPLE_BASIS.get(metric, "rows"), 0))
