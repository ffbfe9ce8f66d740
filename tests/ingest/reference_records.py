"""Reference for the binary COPY encoder: the same validated frame as plain Python records for asyncpg's
`copy_records_to_table` (its own, independent encoding). Test-only; the engine writes with copy_binary."""

from __future__ import annotations

from datetime import datetime
from itertools import repeat

import polars as pl

from engine.domain import ModelSpec
from engine.ingest.canonical import SEGMENT_PREFIX, feature_col


def _segments_json(frame: pl.DataFrame) -> list[str | None] | repeat[None]:
    """One JSON object per row from the `segment.*` columns (null values left out), as text for jsonb."""
    cols = [c for c in frame.columns if c.startswith(SEGMENT_PREFIX)]
    if not cols:
        return repeat(None)
    struct = pl.struct([pl.col(c).alias(c[len(SEGMENT_PREFIX):]) for c in cols])
    encoded = frame.select(
        pl.when(pl.any_horizontal([pl.col(c).is_not_null() for c in cols])).then(struct.struct.json_encode())
    ).to_series()
    # json_encode writes nulls as `"k":null`; drop them so a missing tag is absent, not null. Keys never hold
    # '"' or '\\' (validated), so `"[^"\\]+":null` cannot match inside an encoded value, where every quote
    # is escaped.
    return encoded.str.replace_all(r',?"[^"\\]+":null', "").str.replace(r"^\{,", "{").to_list()


def _array_column(frame: pl.DataFrame, names: list[str]) -> list[list[object] | None] | repeat[None]:
    if not names:
        return repeat(None)
    return frame.select(pl.concat_list([pl.col(n) for n in names])).to_series().to_list()


def prediction_records(
    model: ModelSpec, version_id: int, frame: pl.DataFrame, received_at: datetime
) -> list[tuple[object, ...]]:
    n = frame.height
    regression = model.task == "regression"
    pred = frame.get_column("prediction").to_list()
    label = frame.get_column("label")
    label_list = label.to_list()
    label_time = [received_at if v is not None else None for v in label_list] if label.null_count() < n else repeat(None)
    columns = [
        frame.get_column("time").to_list(),
        repeat(model.id),
        repeat(version_id),
        frame.get_column("prediction_id").to_list(),
        repeat(None) if regression else pred,
        pred if regression else repeat(None),
        frame.get_column("score").to_list(),
        frame.get_column("probabilities").to_list() if model.task == "multiclass" else repeat(None),
        frame.get_column("latency_ms").to_list(),
        _segments_json(frame),
        _array_column(frame, [feature_col(f.name) for f in model.numeric_features]),
        _array_column(frame, [feature_col(f.name) for f in model.categorical_features]),
        repeat(None) if regression else label_list,
        label_list if regression else repeat(None),
        label_time,
    ]
    records = list(zip(*columns, strict=False))
    assert len(records) == n
    return records
