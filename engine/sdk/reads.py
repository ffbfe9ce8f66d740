"""SDK reads of the window series: requests built here, answers decoded into tidy frames.

One row per (bucket, group), `bucket` a tz-aware UTC datetime, one column per metric, and beside each
metric what qualifies it (columns appear when some point of the answer carries them):

- `<metric>_n`: the sample size the metric rests on (the answer's `sample_sizes` of the metric's
  `sample_basis`, e.g. accuracy rests on the labelled rows);
- `<metric>_lo`, `<metric>_hi`: the Wilson 95 % interval of a proportion;
- `<metric>_error_bound`: the computed bound of a value estimated from bins (ROC AUC, latency percentiles…);
- per-class rates as `<metric>[<class>]` (and `[<class>]_lo` / `_hi`);
- with `include`: `confusion[<actual>][<predicted>]` and `predicted[<class>]` counts.

Group columns are named by the grouping keys (`version`, a dimension, a tag key). The frame is Polars by
default (`frame="pandas"` converts it; pandas needs pyarrow); polars is imported only when a frame is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import httpx
import msgspec

from engine.sdk.calls import API, Call, _q, api_error

FrameKind = Literal["polars", "pandas"]
# the group a point belongs to: one key's value, or each key's value for several keys
Group = str | dict[str, str | None] | None


class _MetricPoint(msgspec.Struct):
    bucket: datetime
    group: Group = None
    values: dict[str, float | None] = {}
    error_bounds: dict[str, float] = {}
    per_class: dict[str, dict[str, float | None]] = {}
    intervals: dict[str, tuple[float, float]] = {}
    per_class_intervals: dict[str, dict[str, tuple[float, float]]] = {}
    sample_sizes: dict[str, int] = {}
    confusion_matrix: list[list[int]] | None = None
    predicted_classes: dict[str, int] | None = None


class _MetricSeries(msgspec.Struct):
    group_by: str | None
    metrics: list[str]
    sample_basis: dict[str, str]
    class_labels: list[str] | None
    points: list[_MetricPoint]


class _Bounds(msgspec.Struct):
    lower: list[float | None]
    upper: list[float | None]


class _ColumnGroup(msgspec.Struct):
    group: Group
    time: list[datetime]
    values: dict[str, list[int | float | None]] = {}
    sample_sizes: dict[str, list[int]] = {}
    intervals: dict[str, _Bounds] = {}
    error_bounds: dict[str, list[float | None]] = {}
    per_class: dict[str, dict[str, list[float | None]]] = {}
    per_class_intervals: dict[str, dict[str, _Bounds]] = {}
    confusion_matrix: list[list[list[int]] | None] | None = None
    predicted_classes: dict[str, list[int]] | None = None


class _MetricAnswer(msgspec.Struct):
    """Either form of the `windows/metrics` answer (`series` with format=columns; `points` from a server that
    predates it)."""

    group_by: str | None
    metrics: list[str]
    sample_basis: dict[str, str]
    class_labels: list[str] | None
    series: list[_ColumnGroup] | None = None
    points: list[_MetricPoint] | None = None


class _CustomPoint(msgspec.Struct):
    bucket: datetime
    group: str | None
    count: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    sum: float


class _CustomSeries(msgspec.Struct):
    group_by: str | None
    points: list[_CustomPoint]


class _FeaturePoint(msgspec.Struct):
    bucket: datetime
    feature: str
    n: int
    missing: int
    out_of_range: int
    counts: list[int]


class _FeatureSeries(msgspec.Struct):
    points: list[_FeaturePoint]


def _csv(value: str | Sequence[str] | None, what: str) -> str | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str) or "," in item:
            raise ValueError(f"{what}: {item!r} is not a name (a string without ',')")
    return ",".join(items) or None


def get_version(model: str, version: str) -> Call:
    return Call("GET", f"{API}/models/{_q(model)}/versions/{_q(version)}")


def list_metrics(model: str | None) -> Call:
    return Call("GET", f"{API}/metrics", params={"model": model} if model is not None else {})


def _range(start: datetime, end: datetime, granularity: str) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat(), "granularity": granularity}


def model_metrics(
    model: str, start: datetime, end: datetime, granularity: str, group_by: str | Sequence[str] | None,
    filter: Mapping[str, str] | None, metrics: Sequence[str] | None, include: Sequence[str],
    max_points: int | None,
) -> Call:
    params = _range(start, end, granularity)
    for key, value in (("group_by", _csv(group_by, "group_by")), ("metrics", _csv(metrics, "metrics")),
                       ("include", _csv(include, "include"))):
        if value:
            params[key] = value
    if filter:
        for k, v in filter.items():
            if "," in k or "=" in k or "," in v:
                raise ValueError(f"filter {k!r}={v!r}: keys hold no ',' or '=', values no ','")
        params["filter"] = ",".join(f"{k}={v}" for k, v in filter.items())
    if max_points is not None:
        params["max_points"] = str(max_points)
    params["format"] = "columns"  # the frame is columns: the columnar answer is built and decoded much faster
    return Call("GET", f"{API}/models/{_q(model)}/windows/metrics", params=params)


def custom_metrics(name: str, start: datetime, end: datetime, granularity: str, model: str | None,
                   group_by: str | None) -> Call:
    params = _range(start, end, granularity)
    if model is not None:
        params["model"] = model
    if group_by is not None:
        params["group_by"] = group_by
    return Call("GET", f"{API}/metrics/{_q(name)}/windows", params=params)


def feature_windows(model: str, start: datetime, end: datetime, granularity: str,
                    features: Sequence[str] | None) -> Call:
    params = _range(start, end, granularity)
    names = _csv(features, "features")
    if names:
        params["features"] = names
    return Call("GET", f"{API}/models/{_q(model)}/windows/features", params=params)


def _decode(response: httpx.Response, attempts: int, type_: type[Any]) -> Any:
    if response.status_code >= 300:
        raise api_error(response, attempts)
    return msgspec.json.decode(response.content, type=type_)


def _group_columns(group_by: str | None, groups: list[Group]) -> dict[str, list[Any]]:
    keys = [k.strip() for k in (group_by or "").split(",") if k.strip()]
    if not keys:
        return {}
    if len(keys) == 1:
        return {keys[0]: list(groups)}
    return {k: [g.get(k) if isinstance(g, dict) else None for g in groups] for k in keys}


def _put(columns: dict[str, list[Any]], name: str, size: int, i: int, value: Any) -> None:
    columns.setdefault(name, [None] * size)[i] = value


def metric_frame(response: httpx.Response, attempts: int, kind: FrameKind) -> Any:
    """The `windows/metrics` answer (either form) as a frame (see the module docstring for its columns)."""
    answer: _MetricAnswer = _decode(response, attempts, _MetricAnswer)
    if answer.series is None:
        return _points_frame(_MetricSeries(answer.group_by, answer.metrics, answer.sample_basis,
                                           answer.class_labels, answer.points or []), kind)
    return _columns_frame(answer, answer.series, kind)


def _columns_frame(answer: _MetricAnswer, series: list[_ColumnGroup], kind: FrameKind) -> Any:
    """The columnar answer as the same frame `_points_frame` builds (rows group by group)."""
    sizes = [len(s.time) for s in series]
    total = sum(sizes)
    cols: dict[str, list[Any]] = {"bucket": [t for s in series for t in s.time]}
    groups = _group_columns(answer.group_by, [s.group for s, n in zip(series, sizes, strict=True) for _ in range(n)])
    cols.update(groups)
    labels = answer.class_labels or []

    def concat(pick: Any) -> list[Any]:
        out: list[Any] = []
        for s, n in zip(series, sizes, strict=True):
            part = pick(s)
            out.extend(part if part is not None else [None] * n)
        return out

    def put(name: str, values: list[Any]) -> None:
        if any(v is not None for v in values):  # as the point form: a column only where some point has it
            cols[name] = values

    for m in answer.metrics:
        if not m.endswith("_per_class"):
            cols[m] = concat(lambda s, m=m: s.values.get(m))
    names = {k for s in series for k in s.intervals}
    for m, basis in answer.sample_basis.items():
        put(f"{m}_n", concat(lambda s, b=basis: s.sample_sizes.get(b)))
    for m in sorted(names):
        put(f"{m}_lo", concat(lambda s, m=m: s.intervals[m].lower if m in s.intervals else None))
        put(f"{m}_hi", concat(lambda s, m=m: s.intervals[m].upper if m in s.intervals else None))
    for m in sorted({k for s in series for k in s.error_bounds}):
        put(f"{m}_error_bound", concat(lambda s, m=m: s.error_bounds.get(m)))
    for m in sorted({k for s in series for k in s.per_class}):
        classes = labels or sorted({c for s in series for c in s.per_class.get(m, {})})
        for c in classes:
            put(f"{m}[{c}]", concat(lambda s, m=m, c=c: s.per_class.get(m, {}).get(c)))
    for m in sorted({k for s in series for k in s.per_class_intervals}):
        for c in sorted({c for s in series for c in s.per_class_intervals.get(m, {})}):
            def bound(s: _ColumnGroup, m: str = m, c: str = c, upper: bool = False) -> Any:
                b = s.per_class_intervals.get(m, {}).get(c)
                return None if b is None else b.upper if upper else b.lower
            put(f"{m}[{c}]_lo", concat(bound))
            put(f"{m}[{c}]_hi", concat(lambda s, bound=bound: bound(s, upper=True)))
    if any(s.confusion_matrix is not None for s in series):
        mats = concat(lambda s: s.confusion_matrix)
        for i, a in enumerate(labels):
            for j, c in enumerate(labels):
                cols[f"confusion[{a}][{c}]"] = [mat[i][j] if mat is not None else None for mat in mats]
    if any(s.predicted_classes is not None for s in series):
        for c in labels:
            cols[f"predicted[{c}]"] = concat(lambda s, c=c: (s.predicted_classes or {}).get(c))
    assert all(len(v) == total for v in cols.values())
    return build_frame(cols, kind, strings=tuple(groups))


def _points_frame(series: _MetricSeries, kind: FrameKind) -> Any:
    pts = series.points
    size = len(pts)
    cols: dict[str, list[Any]] = {"bucket": [p.bucket for p in pts]}
    groups = _group_columns(series.group_by, [p.group for p in pts])
    cols.update(groups)
    labels = series.class_labels or []
    for m in series.metrics:
        if not m.endswith("_per_class"):
            cols[m] = [p.values.get(m) for p in pts]
    for i, p in enumerate(pts):
        for m, basis in series.sample_basis.items():  # sizes come by basis ("labelled", …): one per metric here
            if basis in p.sample_sizes:
                _put(cols, f"{m}_n", size, i, p.sample_sizes[basis])
        for m, (lo, hi) in p.intervals.items():
            _put(cols, f"{m}_lo", size, i, lo)
            _put(cols, f"{m}_hi", size, i, hi)
        for m, b in p.error_bounds.items():
            _put(cols, f"{m}_error_bound", size, i, b)
        for m, by_class in p.per_class.items():
            for c in labels or list(by_class):
                _put(cols, f"{m}[{c}]", size, i, by_class.get(c))
        for m, by_class_iv in p.per_class_intervals.items():
            for c, (lo, hi) in by_class_iv.items():
                _put(cols, f"{m}[{c}]_lo", size, i, lo)
                _put(cols, f"{m}[{c}]_hi", size, i, hi)
        if p.confusion_matrix is not None:
            for a, row in zip(labels, p.confusion_matrix, strict=False):
                for c, v in zip(labels, row, strict=False):
                    _put(cols, f"confusion[{a}][{c}]", size, i, v)
        if p.predicted_classes is not None:
            for c, v in p.predicted_classes.items():
                _put(cols, f"predicted[{c}]", size, i, v)
    return build_frame(cols, kind, strings=tuple(groups))


def custom_metric_frame(response: httpx.Response, attempts: int, kind: FrameKind) -> Any:
    """The `metrics/{name}/windows` answer: bucket, the tag group, count, mean, std, min, max, sum."""
    series: _CustomSeries = _decode(response, attempts, _CustomSeries)
    pts = series.points
    cols: dict[str, list[Any]] = {"bucket": [p.bucket for p in pts]}
    groups = _group_columns(series.group_by, [p.group for p in pts])
    cols.update(groups)
    for name in ("count", "mean", "std", "min", "max", "sum"):
        cols[name] = [getattr(p, name) for p in pts]
    return build_frame(cols, kind, floats=("mean", "std", "min", "max", "sum"), strings=tuple(groups))


def feature_frame(response: httpx.Response, attempts: int, kind: FrameKind) -> Any:
    """The `windows/features` answer: bucket, feature, n, missing, out_of_range, counts (per baseline bin)."""
    series: _FeatureSeries = _decode(response, attempts, _FeatureSeries)
    pts = series.points
    cols: dict[str, list[Any]] = {name: [getattr(p, name) for p in pts]
                                  for name in ("bucket", "feature", "n", "missing", "out_of_range", "counts")}
    return build_frame(cols, kind, strings=("feature",))


class _MetricInfo(msgspec.Struct):
    name: str
    model: str | None
    first: datetime
    last: datetime
    count: int


def metric_list_frame(response: httpx.Response, attempts: int, kind: FrameKind) -> Any:
    """The `GET /metrics` answer: name, model, first, last, count, one row per series."""
    infos: list[_MetricInfo] = _decode(response, attempts, list[_MetricInfo])
    cols = {name: [getattr(i, name) for i in infos] for name in ("name", "model", "first", "last", "count")}
    return build_frame(cols, kind, strings=("name", "model"))


def _dtype(pl: Any, name: str, values: list[Any], floats: Sequence[str], strings: Sequence[str]) -> Any:
    if name in ("bucket", "first", "last"):
        return pl.Datetime("us", "UTC")
    present = [v for v in values if v is not None]
    if name in floats:
        return pl.Float64
    if name in strings or (present and all(isinstance(v, str) for v in present)):
        return pl.String
    if present and all(isinstance(v, list) for v in present):
        return pl.List(pl.Int64)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pl.Int64 if present else pl.Float64
    return pl.Float64


def build_frame(cols: dict[str, list[Any]], kind: FrameKind, floats: Sequence[str] = (),
                strings: Sequence[str] = ()) -> Any:
    """A Polars (or pandas) frame of the columns, with stable dtypes: timestamps tz-aware UTC, counts Int64,
    everything else numeric Float64 (a metric whose values happen to be whole numbers stays Float64)."""
    if kind not in ("polars", "pandas"):
        raise ValueError(f"frame must be 'polars' or 'pandas', got {kind!r}")
    import polars as pl

    ints = {"count", "n", "missing", "out_of_range"}
    schema = {}
    for name, values in cols.items():
        dt = _dtype(pl, name, values, floats, strings)
        if dt == pl.Int64 and not (name in ints or name.endswith("_n") or name.startswith(("confusion[", "predicted["))):
            dt = pl.Float64
        schema[name] = dt
    df = pl.DataFrame(cols, schema=schema, strict=False)
    return df.to_pandas() if kind == "pandas" else df
