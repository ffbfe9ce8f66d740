"""Reading ingest files (Parquet or CSV) into frames the ingest service accepts.

Formats: `.parquet`/`.pq` (or any file starting with Parquet's magic bytes) and CSV (header row, comma
separated). Columns are those of the REST rows with features and segments flattened: `prediction_id`, `time`,
`prediction`, `score`, `latency_ms`, `label`[, `label_time`], one column per feature (plain name), and segment columns named
with `--segment-columns` (or prefixed `segment.`). Labels: `prediction_id`, `label`[, `label_time`, `time`].
Metrics: `name`, `value`, `time`[, `tags`].

Timestamps in CSV files must carry a UTC offset (`2026-11-23T10:00:00Z`, `…+01:00`), like everywhere else in
driftline; a predictions CSV with a timestamp lacking one is refused as a whole (exit 2) before anything is
written. Parquet timestamps must be timezone-aware columns. CSV cannot hold per-class probability lists:
give `score` (binary) or `prediction`.
Metric `tags`: a struct column, a map column (list of key/value structs) or a JSON-object string column;
`--segment-columns` adds those columns to the tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl

from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.ingest.canonical import UTC_TIME
from engine.ingest.timeparse import parse_time

Kind = Literal["predictions", "labels", "metrics"]
PARQUET_MAGIC = b"PAR1"
CSV_SCHEMA_INFERENCE_ROWS = 10_000


def file_format(path: Path) -> Literal["parquet", "csv"]:
    if path.suffix.lower() in (".parquet", ".pq"):
        return "parquet"
    with path.open("rb") as fh:
        return "parquet" if fh.read(4) == PARQUET_MAGIC else "csv"


def _text_columns(kind: Kind, model: ModelSpec | None, segment_columns: Sequence[str]) -> set[str]:
    """Columns read from CSV as text whatever they look like (ids like 007, class labels like 0/1)."""
    cols = {"prediction_id", "time", "label_time", "name", "tags", *segment_columns}
    if model is not None and model.task != "regression":
        cols |= {"prediction", "label"}
    if model is not None and kind == "predictions":
        cols |= {f.name for f in model.categorical_features}
    return cols


def _read_csv(path: Path, text: set[str]) -> pl.DataFrame:
    header = pl.read_csv(path, n_rows=0).columns
    overrides: dict[str, pl.DataType] = {c: pl.Utf8() for c in header if c in text or c.startswith("segment.")}
    return pl.read_csv(path, schema_overrides=overrides, infer_schema_length=CSV_SCHEMA_INFERENCE_ROWS)


def _parse_times(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Text timestamps → a UTC datetime column, refusing the file if any value lacks an offset."""
    errors: list[RowError] = []
    values: list[datetime | None] = []
    for i, raw in enumerate(frame.get_column(column).to_list()):
        if raw is None or raw == "":
            values.append(None)
            continue
        parsed = parse_time(raw)
        if isinstance(parsed, str):
            errors.append(RowError(i, column, parsed))
            values.append(None)
        else:
            values.append(parsed)
    if errors:
        raise ValidationError(errors)
    return frame.with_columns(pl.Series(column, values, dtype=UTC_TIME))


def read_frame(path: Path, kind: Kind, model: ModelSpec | None, segment_columns: Sequence[str] = ()) -> pl.DataFrame:
    """The whole file as a frame. Unreadable files raise ValidationError naming the file."""
    try:
        if file_format(path) == "parquet":
            return pl.read_parquet(path)
        frame = _read_csv(path, _text_columns(kind, model, segment_columns))
    except OSError as exc:
        raise ValidationError([RowError(None, "file", f"cannot read {path}: {exc.strerror or exc}")]) from exc
    except pl.exceptions.PolarsError as exc:
        raise ValidationError([RowError(None, "file", f"cannot read {path}: {str(exc)[:300]}")]) from exc
    if kind == "predictions":
        for column in ("time", "label_time"):  # a predictions file may carry each row's label already
            if column in frame.columns:
                frame = _parse_times(frame, column)
    return frame
