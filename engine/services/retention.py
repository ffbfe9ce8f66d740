"""Raw-row retention.

On the full edition the migration installs retention policies and TimescaleDB's job scheduler applies them.
The Apache edition has no job scheduler, so the worker calls `apply_retention` periodically: it drops whole
chunks older than the configured interval with `drop_chunks` (cheap: no row-by-row DELETE)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.store.db import detect_edition
from engine.store.sqlfiles import query
from engine.store.unit import UnitOfWork

RETAINED_TABLES = ("predictions", "metrics")


@dataclass(frozen=True, slots=True)
class RetentionReport:
    dropped_chunks: dict[str, int]
    skipped_reason: str | None = None


async def apply_retention(uow: UnitOfWork, retention: str | None) -> RetentionReport:
    if retention is None:
        return RetentionReport({}, "no retention configured (DRIFTLINE_RETENTION unset)")
    conn = uow.conn
    edition = await detect_edition(conn)
    if edition.license == "timescale":
        return RetentionReport({}, "full edition: retention policies run in TimescaleDB's job scheduler")
    dropped: dict[str, int] = {}
    for table in RETAINED_TABLES:
        rows = await conn.fetch("SELECT drop_chunks($1::regclass, older_than => $2::text::interval)", table, retention)
        dropped[table] = len(rows)
    return RetentionReport(dropped)


async def apply_ingest_log_retention(uow: UnitOfWork, retention: str | None) -> dict[str, int]:
    """Delete rejected rows and idempotency records older than `retention` (DRIFTLINE_INGEST_LOG_RETENTION,
    default 30 days; None keeps them). A batch re-sent with a forgotten key is stored again."""
    if retention is None:
        return {}
    conn = uow.conn
    rejected = await conn.execute(query("ingest.delete_old_rejected"), retention)
    batches = await conn.execute(query("ingest.delete_old_batches"), retention)
    return {"rejected_rows": int(rejected.split()[-1]), "ingest_batches": int(batches.split()[-1])}
