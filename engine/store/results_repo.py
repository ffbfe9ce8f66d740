"""Analysis results: replace the rows of one run (same model, version, segment, analysis, run key and window)
in the caller's transaction, and read them back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from engine.store.sqlfiles import query


@dataclass(frozen=True, slots=True)
class ResultRow:
    subject: str
    statistic: str
    value: float | None
    threshold: float | None
    bound: float | None
    status: str
    n: int | None
    details: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RunKey:
    model_id: int
    analysis: str
    window_start: datetime
    window_end: datetime
    run_key: str = "adhoc"
    version_id: int = 0
    segment: dict[str, str] | None = None


async def replace_run(conn: asyncpg.Connection, key: RunKey, rows: list[ResultRow], baseline_id: int | None) -> None:
    """Delete the run's previous rows and insert `rows` (call inside a transaction)."""
    segment = json.dumps(key.segment or {}, sort_keys=True)
    await conn.execute(
        query("analyses.delete_run"), key.model_id, key.analysis, key.run_key, key.version_id, segment,
        key.window_start, key.window_end,
    )
    await conn.executemany(
        query("analyses.insert_result"),
        [
            (
                key.window_start, key.window_end, key.model_id, key.version_id, segment, key.analysis, key.run_key,
                r.subject, r.statistic, r.value, r.threshold, r.bound, r.status, r.n, baseline_id,
                json.dumps(r.details) if r.details is not None else None,
            )
            for r in rows
        ],
    )


async def read_results(
    conn: asyncpg.Connection, model_id: int, analysis: str | None, start: datetime, end: datetime, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(query("analyses.read_results"), model_id, analysis, start, end, limit)


async def sample_feature(
    conn: asyncpg.Connection,
    model_id: int,
    kind: str,
    position: int,
    start: datetime,
    end: datetime,
    version_id: int | None,
    cap: int,
    segments: dict[str, str] | None = None,
) -> list[Any]:
    """Up to `cap` values of one feature in [start, end) (optionally of one version and rows whose segments
    contain `segments`): a deterministic sample (by a hash of the prediction id) when there are more."""
    name = "analyses.sample_numeric" if kind == "numeric" else "analyses.sample_categorical"
    seg = json.dumps(segments, sort_keys=True) if segments else None
    rows = await conn.fetch(query(name), model_id, start, end, version_id, position, cap, seg)
    return [r["x"] for r in rows]
