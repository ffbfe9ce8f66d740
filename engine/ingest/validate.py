"""Vectorised checks of a canonical prediction frame against the model's declared schema.

Rules (README, "Ingest rules"):
- `prediction_id`: required, 1–200 characters, unique within the batch.
- `time`: required, timezone-aware (see timeparse).
- binary: `prediction` (a class label) or `score` (finite, in [0, 1]) or both; a missing prediction is derived
  as class_labels[1] when score >= threshold else class_labels[0]. `probabilities`, when given, has 2 entries
  and sets `score` to the second when score is absent.
- multiclass: `prediction` or `probabilities` (one per class, finite, each in [0, 1], summing to 1 ± 1e-3);
  a missing prediction is the arg-max class.
- regression: `prediction` is a finite number; `score` and `probabilities` must be absent.
- `latency_ms`: optional, finite, >= 0.
- numeric features: NaN or null = missing (allowed unless the feature is declared non-nullable); ±inf refused.
- magnitudes (see magnitude): a regression prediction or label, a latency and a numeric feature value must be 0
  or within [1e-100, 1e100] in magnitude (refused otherwise); a score or probability below 1e-100 is stored as 0.
  Values outside a declared range and unseen categories are stored: they are data-quality findings, not
  malformed input.
- `label`: optional; a declared class label, or a finite number for regression. `label_time`: optional, only
  with a label (when it was known; the time of ingest when absent).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.domain import ModelSpec
from engine.errors import RowError
from engine.ingest.canonical import SEGMENT_PREFIX, feature_col
from engine.ingest.magnitude import MAGNITUDE_REASON, flush_tiny, out_of_bounds
from engine.ingest.timeparse import MAX_TIME, MIN_TIME

MAX_ID_LENGTH = 200
MAX_SEGMENT_VALUE = 200
MAX_SEGMENT_KEYS = 32
MAX_SEGMENT_KEY = 64
PROBABILITY_SUM_TOLERANCE = 1e-3


def _rows(mask: pl.Series | np.ndarray) -> list[int]:
    arr = mask.to_numpy() if isinstance(mask, pl.Series) else mask
    return np.flatnonzero(np.asarray(arr, dtype=bool)).tolist()


class _Collector:
    def __init__(self, already: set[tuple[int, str]]) -> None:
        self.errors: list[RowError] = []
        self.already = already

    def add(self, mask: pl.Series | np.ndarray, field: str, reason: str) -> None:
        for i in _rows(mask):
            if (i, field) not in self.already:
                self.errors.append(RowError(i, field, reason))


def _check_finite(c: _Collector, s: pl.Series, field: str) -> None:
    c.add(s.is_nan().fill_null(False), field, "NaN is not allowed here")
    c.add(s.is_infinite().fill_null(False), field, "infinite values are not allowed")


def _check_magnitude(c: _Collector, s: pl.Series, field: str) -> None:
    c.add(out_of_bounds(s), field, MAGNITUDE_REASON)


def validate_predictions(
    model: ModelSpec, frame: pl.DataFrame, already: set[tuple[int, str]] | None = None
) -> tuple[pl.DataFrame, list[RowError]]:
    """Returns the frame with derived columns filled in (prediction, score) and feature NaN mapped to null,
    plus every row error found. `already` lists (row, field) pairs reported upstream, to avoid echoes."""
    c = _Collector(already or set())
    pid = frame.get_column("prediction_id")
    c.add(pid.is_null(), "prediction_id", "required")
    lengths = pid.str.len_chars().fill_null(1)
    c.add((lengths == 0) | (lengths > MAX_ID_LENGTH), "prediction_id", f"must be 1–{MAX_ID_LENGTH} characters")
    dup = pid.is_duplicated() & ~pid.is_first_distinct() & pid.is_not_null()
    c.add(dup, "prediction_id", "duplicate prediction_id within the batch")
    time = frame.get_column("time")
    c.add(time.is_null(), "time", "required")
    # JSON rows get this from parse_time; DataFrame columns arrive already typed and need it here.
    c.add(((time < MIN_TIME) | (time >= MAX_TIME)).fill_null(False), "time",
          f"outside [{MIN_TIME.date()}, {MAX_TIME.date()}) (seconds read as milliseconds?)")

    latency = frame.get_column("latency_ms")
    _check_finite(c, latency, "latency_ms")
    _check_magnitude(c, latency, "latency_ms")
    c.add((latency < 0).fill_null(False), "latency_ms", "must be >= 0")

    pred = frame.get_column("prediction")
    label = frame.get_column("label")
    label_time = frame.get_column("label_time")
    c.add(label_time.is_not_null() & label.is_null(), "label_time", "given without a label")
    c.add(((label_time < MIN_TIME) | (label_time >= MAX_TIME)).fill_null(False), "label_time",
          f"outside [{MIN_TIME.date()}, {MAX_TIME.date()})")
    score = frame.get_column("score")
    probs = frame.get_column("probabilities")
    updates: list[pl.Series] = []
    if model.task == "regression":
        c.add(pred.is_null(), "prediction", "required for a regression model")
        _check_finite(c, pred, "prediction")
        _check_finite(c, label, "label")
        _check_magnitude(c, pred, "prediction")
        _check_magnitude(c, label, "label")
        c.add(score.is_not_null(), "score", "not used by a regression model")
        c.add(probs.is_not_null(), "probabilities", "not used by a regression model")
    else:
        labels = list(model.class_labels or ())
        known = pl.Series(labels, dtype=pl.Utf8)
        frame = frame.with_columns(
            flush_tiny(pl.col("score")).alias("score"), pl.col("probabilities").list.eval(flush_tiny(pl.element()))
        )
        score = frame.get_column("score")
        probs = frame.get_column("probabilities")
        c.add(pred.is_not_null() & ~pred.is_in(known.implode()), "prediction", f"not a class label; known: {labels}")
        c.add(label.is_not_null() & ~label.is_in(known.implode()), "label", f"not a class label; known: {labels}")
        _check_finite(c, score, "score")
        c.add(((score < 0) | (score > 1)).fill_null(False), "score", "must be within [0, 1]")
        plen = probs.list.len()
        c.add((plen != len(labels)).fill_null(False), "probabilities", f"must have {len(labels)} entries")
        ok_len = (plen == len(labels)).fill_null(False)
        bad_val = probs.list.eval(pl.element().is_nan() | pl.element().is_infinite()
                                  | (pl.element() < 0) | (pl.element() > 1)).list.any().fill_null(False)
        c.add(bad_val & ok_len, "probabilities", "every probability must be finite and within [0, 1]")
        total = probs.list.sum()
        off = ((total - 1.0).abs() > PROBABILITY_SUM_TOLERANCE).fill_null(False) & ok_len & ~bad_val
        c.add(off, "probabilities", f"must sum to 1 (± {PROBABILITY_SUM_TOLERANCE})")
        usable = pl.lit(ok_len & ~bad_val & ~off)
        if model.task == "binary":
            frame = frame.with_columns(
                pl.when(pl.col("score").is_null() & usable)
                .then(pl.col("probabilities").list.get(1, null_on_oob=True))
                .otherwise(pl.col("score"))
                .fill_nan(None)
                .alias("score")
            )
            derived: pl.Expr = (
                pl.when(pl.col("score") >= model.threshold).then(pl.lit(labels[1]))
                .when(pl.col("score").is_not_null()).then(pl.lit(labels[0]))
            )
            hint = "give a prediction or a score"
        else:
            derived = pl.when(usable).then(
                pl.col("probabilities").list.arg_max()
                .replace_strict(list(range(len(labels))), labels, return_dtype=pl.Utf8)
            )
            hint = "give a prediction or probabilities"
        frame = frame.with_columns(pl.col("prediction").fill_null(derived))
        c.add(frame.get_column("prediction").is_null(), "prediction", f"required: {hint}")

    for spec in model.features:
        s = frame.get_column(feature_col(spec.name))
        field = f"features.{spec.name}"
        if spec.kind == "numeric":
            c.add(s.is_infinite().fill_null(False), field, "infinite values are not allowed")
            _check_magnitude(c, s, field)
            s = s.fill_nan(None)
            updates.append(s)
        if not spec.nullable:
            c.add(s.is_null(), field, "required (feature declared non-nullable)")

    seg_cols = [name for name in frame.columns if name.startswith(SEGMENT_PREFIX)]
    if len(seg_cols) > MAX_SEGMENT_KEYS:
        c.errors.append(RowError(None, "segments", f"at most {MAX_SEGMENT_KEYS} segment keys per batch"))
    for name in seg_cols:
        key = name[len(SEGMENT_PREFIX):]
        if len(key) > MAX_SEGMENT_KEY:
            c.errors.append(RowError(None, f"segments.{key[:64]}…", f"segment keys are at most {MAX_SEGMENT_KEY} characters"))
            continue
        if not key or not (key[0].isalpha() or key[0] == "_") or not all(ch.isalnum() or ch in "_.-" for ch in key):
            c.errors.append(RowError(None, f"segments.{key}", "segment keys are letters, digits, '_', '.', '-'"))
            continue
        s = frame.get_column(name)
        c.add((s.str.len_chars() > MAX_SEGMENT_VALUE).fill_null(False), f"segments.{key}",
              f"value longer than {MAX_SEGMENT_VALUE} characters")
    return frame.with_columns(updates), c.errors
