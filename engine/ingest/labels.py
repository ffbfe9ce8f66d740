"""Label rows → staging records.

A label row: `{"prediction_id": "r-1", "label": "yes", "label_time": "…Z" (optional, default: now),
"time": "…Z" (optional: the prediction's time; needed for predictions older than the label horizon)}`.
The records are written by `engine.ingest.label_writes.apply_labels`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engine.domain import ModelSpec
from engine.errors import RowError
from engine.ingest.magnitude import magnitude_problem
from engine.ingest.timeparse import parse_time

STAGE_COLUMNS = ("row_index", "prediction_id", "label_class", "label_value", "label_time", "time_hint")
LABEL_KEYS = frozenset({"prediction_id", "label", "label_time", "time"})


def label_records(
    model: ModelSpec, rows: Sequence[Any], received_at: datetime
) -> tuple[list[tuple[object, ...]], list[RowError]]:
    errors: list[RowError] = []
    records: list[tuple[object, ...]] = []
    classes = set(model.class_labels or ())
    seen: set[tuple[str, object]] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(RowError(i, None, f"expected an object, got {type(row).__name__}"))
            continue
        before = len(errors)
        for key in sorted(row.keys() - LABEL_KEYS):
            errors.append(RowError(i, key, f"unknown field; known: {', '.join(sorted(LABEL_KEYS))}"))
        pid = row.get("prediction_id")
        if isinstance(pid, int) and not isinstance(pid, bool):
            pid = str(pid)
        if not isinstance(pid, str) or not pid:
            errors.append(RowError(i, "prediction_id", "required, a non-empty string"))
        label = row.get("label")
        label_class: str | None = None
        label_value: float | None = None
        if label is None:
            errors.append(RowError(i, "label", "required"))
        elif model.task == "regression":
            if isinstance(label, bool) or not isinstance(label, int | float) or not math.isfinite(label):
                errors.append(RowError(i, "label", "expected a finite number (regression model)"))
            elif (problem := magnitude_problem(label)) is not None:
                errors.append(RowError(i, "label", problem))
            else:
                label_value = float(label)
        else:
            label_class = str(label).lower() if isinstance(label, bool) else str(label)
            if isinstance(label, float | dict | list) or label_class not in classes:
                errors.append(RowError(i, "label", f"not a class label; known: {list(model.class_labels or ())}"))
        label_time: object = received_at
        if row.get("label_time") is not None:
            label_time = parse_time(row["label_time"])
            if isinstance(label_time, str):
                errors.append(RowError(i, "label_time", label_time))
        hint: object = None
        if row.get("time") is not None:
            hint = parse_time(row["time"])
            if isinstance(hint, str):
                errors.append(RowError(i, "time", hint))
        if isinstance(pid, str):
            if (pid, hint) in seen:
                errors.append(RowError(i, "prediction_id", "duplicate prediction_id within the batch"))
            seen.add((pid, hint))
        if len(errors) == before:
            records.append((i, pid, label_class, label_value, label_time, hint))
    return records, errors
