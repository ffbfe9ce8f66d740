"""Data-quality reads the windows cannot answer: unseen category values with their counts, rows refused at
ingest by field and reason, and the time of the last prediction."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from engine.store.sqlfiles import query


async def unseen_categories(
    conn: asyncpg.Connection, model_id: int, position: int, categories: tuple[str, ...], start: datetime,
    end: datetime, top: int,
) -> list[tuple[str, int]]:
    """The `top` most frequent values of categorical feature `position` outside `categories` in [start, end)."""
    rows = await conn.fetch(query("quality.unseen_categories"), model_id, start, end, position, list(categories), top)
    return [(r["value"], int(r["n"])) for r in rows]


async def rejected_counts(
    conn: asyncpg.Connection, model_id: int, start: datetime, end: datetime, limit: int
) -> list[tuple[str, str, int]]:
    rows = await conn.fetch(query("quality.rejected_counts"), model_id, start, end, limit)
    return [(r["field"], r["reason"], int(r["n"])) for r in rows]


async def last_prediction(conn: asyncpg.Connection, model_id: int, before: datetime) -> datetime | None:
    value: datetime | None = await conn.fetchval(query("quality.last_prediction"), model_id, before)
    return value
