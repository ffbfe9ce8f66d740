"""JSON-shaped rows (dicts) → the canonical prediction frame.

A prediction row looks like::

    {"prediction_id": "r-1", "time": "2026-11-23T10:00:00Z", "prediction": "yes", "score": 0.83,
     "probabilities": [0.17, 0.83], "latency_ms": 12.5, "segments": {"region": "eu"},
     "features": {"age": 41, "plan": "pro"}, "label": "yes", "label_time": "2026-11-24T09:00:00Z"}

Structural problems (wrong JSON type, unknown keys, naive timestamps) are reported here with the row and
field; the value becomes null so that the vectorised checks in `validate` see one consistent frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from engine.domain import ModelSpec
from engine.errors import RowError
from engine.ingest.canonical import canonical_schema, feature_col, segment_col
from engine.ingest.text import INT_LIMIT, INT_REASON
from engine.ingest.timeparse import parse_time

ROW_KEYS = frozenset(
    {"prediction_id", "time", "prediction", "score", "probabilities", "latency_ms", "segments", "features", "label",
     "label_time"}
)


def _number(value: object) -> float | str | None:
    """A float, None, or the reason it is not a number. bool is not a number."""
    if value is None:
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value) if -INT_LIMIT < value < INT_LIMIT else INT_REASON
    return f"expected a number, got {type(value).__name__}"


@dataclass(frozen=True, slots=True)
class _Refused:
    reason: str


def _target(value: object, regression: bool) -> float | str | _Refused:
    """A prediction or label: a number for regression, a class label (str; ints and bools as text) else."""
    if regression:
        x = _number(value)
        return _Refused(x + " (regression model)") if isinstance(x, str) else x  # type: ignore[return-value]
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value) if -INT_LIMIT < value < INT_LIMIT else _Refused(INT_REASON)
    return _Refused(f"expected a class label, got {type(value).__name__}")


def prediction_rows_to_frame(model: ModelSpec, rows: Sequence[Any]) -> tuple[pl.DataFrame, list[RowError]]:
    errors: list[RowError] = []
    n = len(rows)
    numeric = model.numeric_features
    categorical = model.categorical_features
    regression = model.task == "regression"
    pid: list[object] = [None] * n
    time: list[object] = [None] * n
    prediction: list[object] = [None] * n
    score: list[object] = [None] * n
    probabilities: list[object] = [None] * n
    latency: list[object] = [None] * n
    label: list[object] = [None] * n
    label_time: list[object] = [None] * n
    num_cols: list[list[object]] = [[None] * n for _ in numeric]
    cat_cols: list[list[object]] = [[None] * n for _ in categorical]
    segments: dict[str, list[object]] = {}
    known_features = {f.name for f in model.features}

    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(RowError(i, None, f"expected an object, got {type(row).__name__}"))
            continue
        if len(row.keys() - ROW_KEYS):
            for key in sorted(row.keys() - ROW_KEYS):
                errors.append(RowError(i, key, f"unknown field; known: {', '.join(sorted(ROW_KEYS))}"))
        v = row.get("prediction_id")
        if isinstance(v, str):
            pid[i] = v
        elif isinstance(v, int) and not isinstance(v, bool) and -INT_LIMIT < v < INT_LIMIT:
            pid[i] = str(v)
        elif v is not None:
            errors.append(RowError(i, "prediction_id", f"expected a string, got {type(v).__name__}"))
        for key, times in (("time", time), ("label_time", label_time)):
            v = row.get(key)
            if v is not None:
                t = parse_time(v)
                if isinstance(t, str):
                    errors.append(RowError(i, key, t))
                else:
                    times[i] = t
        for key, target_col in (("prediction", prediction), ("label", label)):
            v = row.get(key)
            if v is not None:
                parsed = _target(v, regression)
                if isinstance(parsed, _Refused):
                    errors.append(RowError(i, key, parsed.reason))
                else:
                    target_col[i] = parsed
        for key, target in (("score", score), ("latency_ms", latency)):
            v = row.get(key)
            if v is not None:
                x = _number(v)
                if isinstance(x, str):
                    errors.append(RowError(i, key, x))
                else:
                    target[i] = x
        v = row.get("probabilities")
        if v is not None:
            if isinstance(v, dict) and model.class_labels is not None:
                extra = v.keys() - set(model.class_labels)
                if extra:
                    errors.append(RowError(i, "probabilities", f"unknown classes {sorted(extra)[:5]}"))
                    v = None
                else:
                    v = [v.get(c, 0.0) for c in model.class_labels]
            if isinstance(v, list):
                xs = [_number(x) for x in v]
                bad = next((x for x in xs if isinstance(x, str) or x is None), False)
                if bad is not False:
                    errors.append(RowError(i, "probabilities", "every probability must be a number"))
                else:
                    probabilities[i] = xs
            elif v is not None:
                errors.append(RowError(i, "probabilities", "expected a list (or an object keyed by class)"))
        feats = row.get("features")
        if feats is not None:
            if not isinstance(feats, dict):
                errors.append(RowError(i, "features", f"expected an object, got {type(feats).__name__}"))
            else:
                for col, spec in zip(num_cols, numeric, strict=True):
                    v = feats.get(spec.name)
                    if v is not None:
                        if isinstance(v, float):
                            col[i] = v
                        elif isinstance(v, int) and not isinstance(v, bool) and -INT_LIMIT < v < INT_LIMIT:
                            col[i] = float(v)
                        else:
                            errors.append(
                                RowError(i, f"features.{spec.name}", f"expected a number, got {type(v).__name__}")
                            )
                for col, spec in zip(cat_cols, categorical, strict=True):
                    v = feats.get(spec.name)
                    if v is not None:
                        if isinstance(v, str):
                            col[i] = v
                        elif isinstance(v, bool) or (isinstance(v, int) and -INT_LIMIT < v < INT_LIMIT):
                            col[i] = str(v).lower() if isinstance(v, bool) else str(v)
                        else:
                            errors.append(
                                RowError(i, f"features.{spec.name}", f"expected a string, got {type(v).__name__}")
                            )
                if len(feats) > len(known_features) or not feats.keys() <= known_features:
                    for key in sorted(feats.keys() - known_features)[:20]:
                        errors.append(RowError(i, f"features.{key}", f"not a feature of model {model.name!r}"))
        segs = row.get("segments")
        if segs is not None:
            if not isinstance(segs, dict):
                errors.append(RowError(i, "segments", f"expected an object, got {type(segs).__name__}"))
            else:
                for key, v in segs.items():
                    if isinstance(v, bool):
                        v = str(v).lower()
                    elif isinstance(v, int) and not -INT_LIMIT < v < INT_LIMIT:
                        errors.append(RowError(i, f"segments.{key}", INT_REASON))
                        continue
                    elif isinstance(v, int | float) and not (isinstance(v, float) and not math.isfinite(v)):
                        v = str(v)
                    elif not isinstance(v, str):
                        errors.append(
                            RowError(i, f"segments.{key}", f"expected a string, got {type(v).__name__}")
                        )
                        continue
                    if key not in segments:
                        segments[key] = [None] * n
                    segments[key][i] = v

    schema = canonical_schema(model, segment_keys=list(segments))
    data: dict[str, list[object]] = {
        "prediction_id": pid,
        "time": time,
        "prediction": prediction,
        "score": score,
        "probabilities": probabilities,
        "latency_ms": latency,
        "label": label,
        "label_time": label_time,
    }
    for spec, col in zip(numeric, num_cols, strict=True):
        data[feature_col(spec.name)] = col
    for spec, col in zip(categorical, cat_cols, strict=True):
        data[feature_col(spec.name)] = col
    for key, col in segments.items():
        data[segment_col(key)] = col
    frame = pl.DataFrame(data, schema=schema, strict=False)
    return frame, errors
