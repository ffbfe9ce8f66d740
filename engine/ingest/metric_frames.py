"""Custom metric rows from a frame (a Parquet or CSV file's `name, value, time[, tags]` columns), shaped as
the ingest service takes them: the `tags` column decoded, extra columns merged into the tags."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import polars as pl


def _tags(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # the service reports it as not an object
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    if isinstance(value, list) and all(isinstance(v, dict) and set(v) == {"key", "value"} for v in value):
        return {v["key"]: v["value"] for v in value}  # a Parquet map column
    return value


def metric_rows(frame: pl.DataFrame, tag_columns: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Metric rows for the ingest service: `tags` decoded, `tag_columns` merged into the tags as strings."""
    extra = [c for c in tag_columns if c in frame.columns]
    rows = frame.drop(extra).to_dicts()
    extras = frame.select(extra).to_dicts() if extra else None
    for i, row in enumerate(rows):
        tags = _tags(row["tags"]) if row.get("tags") is not None else None
        if extras is not None:
            merged = dict(tags) if isinstance(tags, dict) else {}
            merged.update({k: str(v) for k, v in extras[i].items() if v is not None})
            tags = merged if isinstance(tags, dict) or tags is None else tags
        if tags is not None:
            row["tags"] = tags
        else:
            row.pop("tags", None)
    return rows
