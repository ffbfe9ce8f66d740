"""The CPU part of an ingest batch, free of I/O: converting and validating prediction rows, the content digest
of a batch (for idempotency keys), and the storable copy of a refused row. The service runs these in a
worker thread, or (large bodies) `engine.ingest.offload` runs them in a worker process."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.ingest.canonical import SEGMENT_PREFIX, frame_to_canonical
from engine.ingest.rows import prediction_rows_to_frame
from engine.ingest.text import frame_nul_errors, storable, unstorable_errors
from engine.ingest.validate import validate_predictions

MAX_REPORTED_ERRORS = 1000
MAX_REJECTED_PAYLOAD_CHARS = 4096  # a refused row is kept with at most this much of its content


def check_size(n: int, max_rows: int) -> None:
    if n == 0:
        raise ValidationError([RowError(None, None, "empty batch")])
    if n > max_rows:
        raise ValidationError([RowError(None, None, f"batch of {n} rows exceeds the limit of {max_rows}; split it")])


def decide(errors: list[RowError], partial: bool) -> None:
    """Refuse the batch on a batch-level error, or on any error unless `partial`."""
    batch_level = [e for e in errors if e.row is None]
    if batch_level or (errors and not partial):
        raise ValidationError(errors[:MAX_REPORTED_ERRORS] if len(errors) > MAX_REPORTED_ERRORS else errors)


def batch_digest(rows: Sequence[Any] | pl.DataFrame, version: str | None, partial: bool,
                 segment_columns: Sequence[str]) -> str:
    """sha256 over a batch's content and the options that change its meaning."""
    h = hashlib.sha256(repr((version, partial, tuple(segment_columns))).encode())
    if isinstance(rows, pl.DataFrame):
        h.update(rows.write_ipc(None, compression="uncompressed").getbuffer())
    else:
        h.update(json.dumps(rows, default=_json_default, sort_keys=True).encode())
    return h.hexdigest()


def _json_default(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _finite_json(value: object) -> object:
    """PostgreSQL's json has no NaN or Infinity: keep such numbers as the strings 'NaN', 'Infinity'."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


def payload(item: object) -> str:
    """The refused row as jsonb text: NUL and huge integers made storable, and at most
    MAX_REJECTED_PAYLOAD_CHARS of it (a longer row is kept as the start of its JSON text)."""
    try:
        text = json.dumps(item, default=_json_default, allow_nan=False)
    except (ValueError, TypeError):
        text = json.dumps(_finite_json(storable(item)), default=_json_default, allow_nan=False)
    if "\\u0000" in text:
        text = json.dumps(_finite_json(storable(item)), default=_json_default, allow_nan=False)
    if len(text) > MAX_REJECTED_PAYLOAD_CHARS:
        return json.dumps({"truncated": True, "chars": len(text), "head": text[:MAX_REJECTED_PAYLOAD_CHARS]})
    return text


def prepare_predictions(
    model: ModelSpec, rows: Sequence[Any] | pl.DataFrame, segment_columns: Sequence[str], partial: bool,
) -> tuple[pl.DataFrame, list[RowError]]:
    """The CPU part of a predictions batch (conversion and validation), run in a worker thread or process."""
    if isinstance(rows, pl.DataFrame):
        errors = frame_nul_errors(rows)
        frame, more = frame_to_canonical(model, rows, segment_columns)
        errors += more
        decide(errors, partial)
    else:
        errors = unstorable_errors(rows)
        frame, more = prediction_rows_to_frame(model, rows)
        errors += more
    frame, more = validate_predictions(model, frame, {(e.row, e.field) for e in errors if e.row is not None
                                                      and e.field is not None})
    errors = sorted(errors + more, key=lambda e: (e.row if e.row is not None else -1))
    return frame, errors




def undeclared_segment_warnings(model: ModelSpec, frame: pl.DataFrame) -> tuple[RowError, ...]:
    """One warning per segment key the stored rows carry that is not a declared dimension of the model:
    those values are stored, but the windows keep only declared dimensions, so they cannot be grouped or
    filtered by."""
    declared = ", ".join(model.dimensions) or "none"
    keys = sorted(c[len(SEGMENT_PREFIX):] for c in frame.columns
                  if c.startswith(SEGMENT_PREFIX) and c[len(SEGMENT_PREFIX):] not in model.dimensions
                  and frame.get_column(c).is_not_null().any())
    return tuple(RowError(None, f"segments.{k}", f"not a declared dimension of {model.name} (declared: {declared}): "
                          "stored, but windows cannot be grouped or filtered by it") for k in keys)


def writable_rows(frame: pl.DataFrame, bad: Sequence[int]) -> pl.DataFrame:
    """The rows to COPY: all but the refused ones, sorted. Concurrent batches that share ids must take the
    unique index's row locks in one global order, or two of them can each wait for the other (deadlock).
    Byte order of the id, then time; the de-duplicating path inserts from its freshly filled stage table in
    this same order."""
    good = frame
    if bad:
        keep = pl.Series([True] * frame.height)
        keep[list(bad)] = False
        good = frame.filter(keep)
    return good.sort(["prediction_id", "time"])
