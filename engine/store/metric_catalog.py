"""The catalogue of custom metric series, read from the metric windows (and raw rows where they are pending)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import asyncpg

from engine.store.sqlfiles import query
from engine.windows.ranges import merge_ranges


async def list_metric_series(conn: asyncpg.Connection, model_id: int | None) -> list[asyncpg.Record]:
    """(name, model, first, last, count) per series, by name then model (model-less series first)."""
    by_model: dict[int | None, list[tuple[datetime, datetime]]] = defaultdict(list)
    for r in await conn.fetch(query("metric_catalog.pending"), model_id):
        by_model[r["model_id"]].append((r["lo"], r["hi"]))
    models: list[int | None] = []
    los: list[datetime] = []
    his: list[datetime] = []
    for mid, ranges in by_model.items():
        for lo, hi in merge_ranges(ranges):
            models.append(mid)
            los.append(lo)
            his.append(hi)
    return await conn.fetch(query("metric_catalog.list"), model_id, models, los, his)
