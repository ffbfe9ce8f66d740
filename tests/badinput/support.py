"""What every bad-input case checks besides its answer: the database is exactly as it was (everything ingest
writes, plus the registry), or, in partial mode, exactly the good rows were added."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from tests.ingest.support import Snapshot, snapshot


@dataclass(frozen=True)
class State:
    ingest: Snapshot
    registry: tuple[Any, ...]


async def state(pool: asyncpg.Pool) -> State:
    registry = await pool.fetch(
        "SELECT m.name, m.task, m.threshold, m.description, "
        "       (SELECT count(*) FROM model_features f WHERE f.model_id = m.id) AS features, "
        "       (SELECT array_agg(v.version || ':' || v.stage ORDER BY v.version) FROM model_versions v "
        "         WHERE v.model_id = m.id) AS versions "
        "FROM models m ORDER BY m.name")
    return State(await snapshot(pool), tuple(tuple(r) for r in registry))


def matches(errors: list[dict[str, Any]] | tuple[Any, ...], row: int | None, field: str | None, reason: str) -> bool:
    """An error (a JSON object of the REST answer or an SDK RowError) at that row and field whose reason
    contains `reason`."""
    for e in errors:
        got = (e["row"], e["field"], e["reason"]) if isinstance(e, dict) else (e.row, e.field, e.reason)
        if got[0] == row and got[1] == field and reason in got[2]:
            return True
    return False
