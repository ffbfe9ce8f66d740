"""Parameters of window reads, checked and resolved: the granularity ("auto" or a name), the seconds each
bucket covers, the grouping keys and what a point's `group` says, the metric names of a model's task. Pure
(no I/O); bad input raises a `ValidationError` naming the read parameter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.windows.catalog import metric_names
from engine.windows.spec import GRANULARITIES, Granularity, LevelName

MAX_POINTS = 50_000  # buckets of one series at an explicit granularity
AUTO_POINTS = 750  # "auto": the finest granularity with at most this many buckets (31 days at 1h)
TAG_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def invalid(field: str, message: str) -> ValidationError:
    """A bad read parameter, reported as such (a RowError alone would call it a "batch" problem)."""
    return ValidationError([RowError(None, field, message)], f"invalid read parameter {field}: {message}")


def choose_granularity(start: datetime, end: datetime, granularity: str, max_points: int | None = None) -> Granularity:
    """The bucket width of a read: a name of `GRANULARITIES`, or "auto": the finest one whose buckets over
    [start, end) number at most `max_points` (default `AUTO_POINTS`; the coarsest, 1w, if none does)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise invalid("start/end", "timestamps must be timezone-aware")
    if end <= start:
        raise invalid("end", "must be after start")
    if max_points is not None and not 1 <= max_points <= MAX_POINTS:
        raise invalid("max_points", f"must be between 1 and {MAX_POINTS}")
    if granularity == "auto":
        limit = max_points or AUTO_POINTS
        fits = [g for g in GRANULARITIES.values() if _bucket_count(g, start, end) <= limit]
        return fits[0] if fits else list(GRANULARITIES.values())[-1]
    if granularity not in GRANULARITIES:
        raise invalid("granularity", f"must be auto or one of {', '.join(GRANULARITIES)}")
    g = GRANULARITIES[granularity]
    if _bucket_count(g, start, end) > MAX_POINTS:
        raise invalid(
            "granularity", f"{granularity} over {end - start} is more than {MAX_POINTS} buckets; use a coarser one"
        )
    return g


def _bucket_count(g: Granularity, start: datetime, end: datetime) -> int:
    return (g.ceil(end) - g.floor(start)) // g.width


def choose_level(start: datetime, end: datetime, granularity: str) -> LevelName:
    """The stored level a read at `granularity` comes from."""
    return choose_granularity(start, end, granularity).base


def bucket_seconds(buckets: Sequence[datetime], g: Granularity, start: datetime, end: datetime) -> NDArray[np.float64]:
    """Seconds of [start, end) inside each bucket (the first and last may be partial)."""
    if not buckets:
        return np.zeros(0)
    b0 = np.array([(b - start).total_seconds() for b in buckets])
    w = g.width.total_seconds()
    return np.minimum(b0 + w, (end - start).total_seconds()) - np.maximum(b0, 0.0)


def group_keys(group_by: str | None) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in (group_by or "").split(",") if k.strip())
    if len(set(keys)) != len(keys):
        raise invalid("group_by", f"a key is named twice: {group_by}")
    return keys


def group_labels(keys: tuple[str, ...], groups: list[Any], versions: dict[str, str]) -> list[Any]:
    """What a point's `group` says: the value of a single key (versions by name), or a key → value mapping
    for several keys."""
    if len(keys) <= 1:
        return [versions.get(g, g) for g in groups] if keys == ("version",) else groups
    at = keys.index("version") if "version" in keys else -1
    return [
        {k: (versions.get(v, v) if i == at else v) for i, (k, v) in enumerate(zip(keys, g, strict=True))}
        for g in groups
    ]


def count_matrix(column: Any, size: int, width: int) -> NDArray[np.int64]:
    """A merged count column as a (size, width) matrix: absent arrays (no row with a label, say) and
    shorter ones padded with zeros."""
    out = np.zeros((size, width), dtype=np.int64)
    rows = column if isinstance(column, list) else list(column)
    for i, a in enumerate(rows):
        if a is not None and len(a):
            n = min(len(a), width)
            out[i, :n] = np.asarray(a)[:n]
    return out


def wanted_metrics(info: ModelSpec, metrics: Sequence[str] | None) -> tuple[str, ...]:
    known = metric_names(info.task)
    wanted = tuple(metrics) if metrics else known
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise invalid("metrics", f"unknown for a {info.task} model: {', '.join(unknown)}; known: {', '.join(known)}")
    return wanted
