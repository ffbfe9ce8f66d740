"""Custom metric rows → COPY records.

A metric row: `{"name": "cost_usd", "value": 0.0123, "time": "…Z", "tags": {"region": "eu"}}`.
Names: letters, digits, '_', '.', '-', '/' (1–200 characters). Values: finite numbers, 0 or within
[1e-100, 1e100] in magnitude (their squares are summed in float8, see `engine.ingest.magnitude`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from engine.errors import RowError
from engine.ingest.magnitude import magnitude_problem
from engine.ingest.timeparse import parse_time

METRIC_KEYS = frozenset({"name", "value", "time", "tags"})
# Tags are bounded like segments: they are indexed with the metric in its rollups (a B-tree entry must stay
# well under PostgreSQL's ~2.7 kB), and a few short keys is what a grouping dimension is.
MAX_TAGS = 16
MAX_TAG_KEY = 64
MAX_TAG_VALUE = 200
MAX_TAGS_JSON = 1024
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]{0,199}$")


def _tags_problem(tags: dict[str, str]) -> str | None:
    if len(tags) > MAX_TAGS:
        return f"at most {MAX_TAGS} tags, got {len(tags)}"
    for k, v in tags.items():
        if not 1 <= len(k) <= MAX_TAG_KEY:
            return f"tag keys are 1–{MAX_TAG_KEY} characters ({k[:20]!r}…)"
        if len(v) > MAX_TAG_VALUE:
            return f"tag {k!r}: value longer than {MAX_TAG_VALUE} characters"
    return None


def metric_records(
    rows: Sequence[Any], model_id: int | None, refused: set[int | None] | frozenset[int | None] = frozenset(),
) -> tuple[list[tuple[object, ...]], list[RowError]]:
    """COPY records for the valid rows and the errors of the others; rows in `refused` (already reported by
    the caller) are skipped."""
    errors: list[RowError] = []
    records: list[tuple[object, ...]] = []
    tag_cache: dict[tuple[tuple[str, str], ...], str] = {}
    for i, row in enumerate(rows):
        if i in refused:
            continue
        if not isinstance(row, dict):
            errors.append(RowError(i, None, f"expected an object, got {type(row).__name__}"))
            continue
        before = len(errors)
        for key in sorted(row.keys() - METRIC_KEYS):
            errors.append(RowError(i, key, f"unknown field; known: {', '.join(sorted(METRIC_KEYS))}"))
        name = row.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            errors.append(RowError(i, "name", "required; letters, digits, '_', '.', '-', '/', at most 200"))
        value = row.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(RowError(i, "value", "required, a number"))
        elif isinstance(value, int) and not -(2**63) < value < 2**63:
            errors.append(RowError(i, "value", "integer out of range (|n| must be < 2^63)"))
        elif not math.isfinite(value):
            errors.append(RowError(i, "value", "NaN and infinite values are not allowed"))
        elif (problem := magnitude_problem(value)) is not None:
            errors.append(RowError(i, "value", problem))
        time = parse_time(row.get("time")) if row.get("time") is not None else "required"
        if isinstance(time, str):
            errors.append(RowError(i, "time", time))
        tags = row.get("tags")
        tags_json: str | None = None
        if tags is not None:
            if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
                errors.append(RowError(i, "tags", "expected an object of string values"))
            elif (problem := _tags_problem(tags)) is not None:
                errors.append(RowError(i, "tags", problem))
            elif tags:
                key = tuple(sorted(tags.items()))
                tags_json = tag_cache.get(key)
                if tags_json is None:
                    tags_json = tag_cache[key] = json.dumps(dict(key))
                if len(tags_json) > MAX_TAGS_JSON:
                    errors.append(RowError(i, "tags", f"tags take more than {MAX_TAGS_JSON} bytes as JSON"))
        if len(errors) == before:
            records.append((time, model_id, name, float(value), tags_json))  # type: ignore[arg-type]
    return records, errors
