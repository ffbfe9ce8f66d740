"""The canonical prediction frame every entry point converts to before validation.

Columns: `prediction_id` (str), `time` (UTC datetime), `prediction` (str class label, or float for regression),
`score` (float, binary positive-class probability), `probabilities` (list of float, class_labels order),
`latency_ms` (float), `label` (str or float), `label_time` (UTC datetime: when the label was known; the
time of ingest when absent), `feature.<name>` per declared feature (float or str), and
`segment.<key>` per segment tag (str).

User DataFrames name features by their plain names; `frame_to_canonical` maps them and refuses what it cannot
map (unknown columns, wrong dtypes, naive datetimes) column by column.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from engine.domain import ModelSpec
from engine.errors import RowError

FEATURE_PREFIX = "feature."
SEGMENT_PREFIX = "segment."
UTC_TIME = pl.Datetime("us", "UTC")
# An ISO 8601 timestamp that ends with a time of day and a zone designator.
_AWARE_STAMP = r"[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
BASE_COLUMNS = ("prediction_id", "time", "prediction", "score", "probabilities", "latency_ms", "label", "label_time")


def feature_col(name: str) -> str:
    return FEATURE_PREFIX + name


def segment_col(key: str) -> str:
    return SEGMENT_PREFIX + key


def canonical_schema(model: ModelSpec, segment_keys: Sequence[str] = ()) -> dict[str, pl.DataType]:
    target: pl.DataType = pl.Float64() if model.task == "regression" else pl.Utf8()
    schema: dict[str, pl.DataType] = {
        "prediction_id": pl.Utf8(),
        "time": UTC_TIME,
        "prediction": target,
        "score": pl.Float64(),
        "probabilities": pl.List(pl.Float64()),
        "latency_ms": pl.Float64(),
        "label": target,
        "label_time": UTC_TIME,
    }
    for spec in model.features:
        schema[feature_col(spec.name)] = pl.Float64() if spec.kind == "numeric" else pl.Utf8()
    for key in segment_keys:
        schema[segment_col(key)] = pl.Utf8()
    return schema


def _cast(series: pl.Series, dtype: pl.DataType, field: str) -> pl.Series | RowError:
    """Cast one user column to its canonical dtype, refusing lossy or meaningless casts."""
    src = series.dtype
    if dtype == UTC_TIME:
        if isinstance(src, pl.Datetime):
            if src.time_zone is None:
                return RowError(None, field, "datetime column has no timezone (naive timestamps are refused; "
                                "use .dt.replace_time_zone('UTC') if the values are UTC)")
            return series.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        if src == pl.Utf8:
            # str.to_datetime(time_zone="UTC") would read a naive string as UTC; refuse it as a naive
            # datetime column is refused (timeparse.py's policy).
            naive = series.is_not_null() & ~series.str.contains(_AWARE_STAMP).fill_null(True)
            if naive.any():
                first = int(naive.arg_max() or 0)
                return RowError(None, field, f"timestamp strings without a timezone (first at row {first}: "
                                f"{str(series[first])[:64]!r}); add 'Z' or an offset")
            try:
                return series.str.to_datetime(time_zone="UTC", time_unit="us")
            except pl.exceptions.PolarsError as exc:
                return RowError(None, field, f"cannot parse timestamps with a timezone: {str(exc)[:120]}")
        return RowError(None, field, f"expected a timezone-aware datetime column, got {src}")
    if dtype == pl.Float64:
        if src.is_numeric() and src != pl.Boolean:
            return series.cast(pl.Float64)
        if src == pl.Null:
            return series.cast(pl.Float64)
        return RowError(None, field, f"expected a numeric column, got {src}")
    if dtype == pl.Utf8:
        if src in (pl.Utf8, pl.Categorical, pl.Enum) or src.is_integer() or src == pl.Boolean or src == pl.Null:
            if src == pl.Boolean:
                return series.cast(pl.Utf8).str.to_lowercase()
            return series.cast(pl.Utf8)
        return RowError(None, field, f"expected a string column, got {src}")
    if isinstance(dtype, pl.List):
        if isinstance(src, pl.List | pl.Array) and src.inner is not None and src.inner.is_numeric():
            return series.cast(pl.List(pl.Float64))
        return RowError(None, field, f"expected a list of numbers, got {src}")
    return series.cast(dtype)


def frame_to_canonical(
    model: ModelSpec, frame: pl.DataFrame, segment_columns: Sequence[str] = ()
) -> tuple[pl.DataFrame, list[RowError]]:
    """Map a user frame (features by plain name, segments listed in `segment_columns` or already
    prefixed `segment.`) onto the canonical frame. Missing optional columns become nulls."""
    errors: list[RowError] = []
    features = {f.name for f in model.features}
    renames: dict[str, str] = {}
    segment_keys: list[str] = []
    for name in frame.columns:
        if name in BASE_COLUMNS:
            continue
        if name in segment_columns:
            renames[name] = segment_col(name)
            segment_keys.append(name)
        elif name.startswith(SEGMENT_PREFIX):
            segment_keys.append(name[len(SEGMENT_PREFIX):])
        elif name in features:
            renames[name] = feature_col(name)
        elif name.startswith(FEATURE_PREFIX) and name[len(FEATURE_PREFIX):] in features:
            continue
        else:
            errors.append(RowError(None, name, f"unknown column: not a feature of model {model.name!r}, "
                                   f"a segment column, or one of {', '.join(BASE_COLUMNS)}"))
    for name in segment_columns:
        if name not in frame.columns:
            errors.append(RowError(None, name, "segment column not in the frame"))
    if errors:
        return frame.clear(), errors
    frame = frame.rename(renames)
    schema = canonical_schema(model, segment_keys)
    columns: list[pl.Series] = []
    for name, dtype in schema.items():
        if name in frame.columns:
            cast = _cast(frame.get_column(name), dtype, name)
            if isinstance(cast, RowError):
                errors.append(cast)
                continue
            columns.append(cast.alias(name))
        else:
            columns.append(pl.Series(name, [None] * frame.height, dtype=dtype))
    if errors:
        return frame.clear(), errors
    return pl.DataFrame(columns), errors
