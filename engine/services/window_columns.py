"""The columnar form of a metric series (`format=columns`): one entry per group, each holding arrays over its
buckets (`time`, a value array per metric, sample sizes per basis, interval bounds, error bounds, per-class
rates) instead of one object per point. Same content as the point form: an element a point leaves out (no
interval where there are no trials, no error bound where it is exact) is null here; a column no element
holds is left out, as no point would hold it. Built from the derived columns directly: no per-point dicts,
and large reads encode several times faster."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from engine.windows.derive_batch import ClassColumn, DerivedColumns

Values = list[int | float | None]


class IntervalMethod(msgspec.Struct, frozen=True):
    """How `intervals` are computed: the Wilson score interval of a binomial proportion (successes over
    trials, e.g. correct over labelled rows) at `confidence`, two-sided."""

    method: str
    confidence: float


class Bounds(msgspec.Struct, frozen=True):
    """Lower and upper bounds of an interval, one element per bucket (null where there is none)."""

    lower: list[float | None]
    upper: list[float | None]


class MetricColumnGroup(msgspec.Struct, frozen=True, omit_defaults=True):
    """One series (one group) of a columnar answer: element i of every array belongs to bucket `time[i]`."""

    group: str | dict[str, str | None] | None
    time: list[datetime]
    values: dict[str, Values]  # by metric (counts are integers)
    sample_sizes: dict[str, list[int]]  # by basis (see the answer's `sample_basis`)
    intervals: dict[str, Bounds]
    error_bounds: dict[str, list[float | None]]
    per_class: dict[str, dict[str, list[float | None]]]
    per_class_intervals: dict[str, dict[str, Bounds]]
    # with include=confusion_matrix / class_distribution (as the point form)
    confusion_matrix: list[list[list[int]] | None] | None = None
    predicted_classes: dict[str, list[int]] | None = None


class MetricColumns(msgspec.Struct, frozen=True):
    """The metric series of `GET …/windows/metrics?format=columns`: the same header as the point form
    (`format` says which) and, instead of `points`, `series`: one `MetricColumnGroup` per group in the order
    the groups first occur (bucket by bucket)."""

    format: str
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
    series: tuple[MetricColumnGroup, ...]


def group_index(groups: Sequence[Any]) -> list[tuple[Any, list[int] | None]]:
    """(group, element indices) per distinct group in first-occurrence order; indices None for a single
    group holding every element (no copy needed)."""
    where: dict[Any, list[int]] = {}
    first: dict[Any, Any] = {}
    for i, g in enumerate(groups):
        key = tuple(g) if isinstance(g, list) else g
        if key not in where:
            where[key] = []
            first[key] = g
        where[key].append(i)
    if len(where) == 1:
        [(key, _)] = where.items()
        return [(first[key], None)]
    return [(first[k], idx) for k, idx in where.items()]


def _take(values: list[Any], idx: list[int] | None) -> list[Any]:
    return values if idx is None else [values[i] for i in idx]


def _masked(values: list[Any], has: list[bool] | None) -> list[Any]:
    if has is None or all(has):
        return values
    return [v if h else None for v, h in zip(values, has, strict=True)]


def _present(has: list[bool] | None, values: list[Any]) -> bool:
    return (has is None or any(has)) and any(v is not None for v in values)


def _bounds(pairs: list[Any]) -> Bounds:
    return Bounds([p[0] if p is not None else None for p in pairs], [p[1] if p is not None else None for p in pairs])


def build_groups(
    d: DerivedColumns,
    buckets: list[datetime],
    groups: list[Any],
    labels: list[Any],
    confusion: list[Any] | None,
    predicted: list[dict[str, int]] | None,
) -> tuple[MetricColumnGroup, ...]:
    """One `MetricColumnGroup` per distinct group of the derived columns `d` (elements in `buckets` /
    `groups` order; `labels` what each element's `group` says)."""
    if d.size == 0:
        return ()
    values = [(name, _masked(v, has)) for name, v, has in d.values]
    bounds = [(name, _masked(v, has)) for name, v, has in d.error_bounds if _present(has, v)]
    intervals = [(name, _masked(v, has)) for name, v, has in d.intervals if _present(has, v)]
    sizes = [(name, v) for name, v, _ in d.sample_sizes]
    per_class = [_class_masked(c) for c in d.per_class]
    pc_intervals = [_class_masked(c) for c in d.per_class_intervals if any(_present(c[2], v) for v in c[1].values())]
    out = []
    for _, idx in group_index(groups):
        at = 0 if idx is None else idx[0]
        out.append(
            MetricColumnGroup(
                labels[at],
                _take(buckets, idx),
                {n: _take(v, idx) for n, v in values},
                {n: _take(v, idx) for n, v in sizes},
                {n: _bounds(_take(v, idx)) for n, v in intervals},
                {n: _take(v, idx) for n, v in bounds},
                {n: {c: _take(v, idx) for c, v in by.items()} for n, by in per_class},
                {n: {c: _bounds(_take(v, idx)) for c, v in by.items()} for n, by in pc_intervals},
                _take(confusion, idx) if confusion is not None else None,
                {c: [p[c] for p in _take(predicted, idx)] for c in (predicted[0] if predicted else {})}
                if predicted is not None
                else None,
            )
        )
    return tuple(out)


def _class_masked(c: ClassColumn) -> tuple[str, dict[str, list[Any]]]:
    name, by_class, has = c
    return name, {k: _masked(v, has) for k, v in by_class.items()}
