"""Raw-row retention, and the label horizon of the prediction-time lookup.

On the full edition the migration installs retention policies and TimescaleDB's job scheduler applies them.
The Apache edition has no job scheduler, so the worker calls `apply_retention` periodically: it drops whole
chunks older than the configured interval with `drop_chunks` (cheap: no row-by-row DELETE).

`prune_prediction_times` runs on both editions (the horizon is a runtime setting, not a policy): it drops the
chunks of `prediction_times` older than the label horizon, or than the retention when there is no horizon.

`apply_job_retention` (both editions) deletes the job queue's finished jobs and the monitors' finished runs
older than their settings."""

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


async def prune_prediction_times(uow: UnitOfWork, label_horizon: str | None, retention: str | None) -> int:
    """Drop the chunks of `prediction_times` wholly older than the label horizon (else the retention);
    returns how many. Labels without a `time` for predictions older than that are refused as unknown."""
    keep = label_horizon or retention
    if keep is None:
        return 0
    rows = await uow.conn.fetch(
        "SELECT drop_chunks('prediction_times'::regclass, older_than => $1::text::interval)", keep
    )
    return len(rows)


async def apply_ingest_log_retention(uow: UnitOfWork, retention: str | None) -> dict[str, int]:
    """Delete rejected rows and idempotency records older than `retention` (DRIFTLINE_INGEST_LOG_RETENTION,
    default 30 days; None keeps them). A batch re-sent with a forgotten key is stored again."""
    if retention is None:
        return {}
    conn = uow.conn
    rejected = await conn.execute(query("ingest.delete_old_rejected"), retention)
    batches = await conn.execute(query("ingest.delete_old_batches"), retention)
    return {"rejected_rows": int(rejected.split()[-1]), "ingest_batches": int(batches.split()[-1])}


DELETE_BATCH = 50_000


async def apply_job_retention(uow: UnitOfWork, job_retention: str | None, run_retention: str | None,
                              batch: int = DELETE_BATCH) -> dict[str, int]:
    """Delete the job queue's finished jobs (and their events) older than `job_retention`
    (DRIFTLINE_JOB_RETENTION, default 7 days) and the monitors' finished runs older than `run_retention`
    (DRIFTLINE_MONITOR_RUN_RETENTION, default 90 days); None keeps them. At most `batch` rows of each per call."""
    out: dict[str, int] = {}
    async with uow.transaction() as conn:
        if job_retention is not None:
            tag = await conn.execute(query("job_retention.delete_old_jobs"), job_retention, batch)
            out["jobs"] = int(tag.split()[-1])
        if run_retention is not None:
            tag = await conn.execute(query("job_retention.delete_old_monitor_runs"), run_retention, batch)
            out["monitor_runs"] = int(tag.split()[-1])
    return out
