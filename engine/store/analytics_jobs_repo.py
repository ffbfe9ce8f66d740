"""Analytics-pipeline jobs and their run history (`analytics_jobs`, `analytics_job_runs`): the SQL of
sql/queries/analytics_jobs.sql, on the caller's connection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from engine.store.sqlfiles import query


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    lock_id: int
    model_name: str
    metrics_path: str
    predictions_path: str
    frequency: str
    enabled: bool
    created_at: datetime
    last_period: datetime | None
    last_run_at: datetime | None
    last_status: str | None


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    job_id: str
    batch_id: str | None
    trigger: str
    period: datetime | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    rows_ingested: int | None
    outputs: tuple[str, ...]
    error: str | None
    traceback: str | None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: str  # succeeded | failed
    batch_id: str | None
    duration_s: float
    rows_ingested: int | None
    outputs: Sequence[str]
    summary: dict[str, Any] | None
    error: str | None
    traceback: str | None


def _job(r: asyncpg.Record) -> JobRow:
    return JobRow(**dict(r))


def _run(r: asyncpg.Record) -> RunRow:
    d = dict(r)
    d["outputs"] = tuple(d["outputs"] or ())
    return RunRow(**d)


async def insert_job(conn: asyncpg.Connection, job_id: str, model_id: int, metrics_path: str, predictions_path: str,
                     frequency: str) -> bool:
    """True when the job was created, False when one with this id exists already."""
    return await conn.fetchval(query("analytics_jobs.insert_job"), job_id, model_id, metrics_path, predictions_path,
                               frequency) is not None


async def get_job(conn: asyncpg.Connection, job_id: str) -> JobRow | None:
    row = await conn.fetchrow(query("analytics_jobs.select_job"), job_id)
    return _job(row) if row is not None else None


async def list_jobs(conn: asyncpg.Connection, limit: int) -> list[JobRow]:
    return [_job(r) for r in await conn.fetch(query("analytics_jobs.select_jobs"), limit)]


async def delete_job(conn: asyncpg.Connection, job_id: str) -> bool:
    return await conn.fetchval(query("analytics_jobs.delete_job"), job_id) is not None


async def try_lock(conn: asyncpg.Connection, lock_id: int) -> bool:
    return bool(await conn.fetchval(query("analytics_jobs.try_job_lock"), lock_id))


async def unlock(conn: asyncpg.Connection, lock_id: int) -> None:
    await conn.fetchval(query("analytics_jobs.job_unlock"), lock_id)


async def running_run(conn: asyncpg.Connection, job_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(query("analytics_jobs.running_run"), job_id)


async def start_run(conn: asyncpg.Connection, job_id: str, trigger: str, period: datetime | None) -> int:
    """Mark runs a dead process left 'running' as failed, record a new 'running' run (call holding the
    job's lock, in a transaction)."""
    await conn.execute(query("analytics_jobs.fail_interrupted_runs"), job_id)
    row = await conn.fetchrow(query("analytics_jobs.insert_run"), job_id, trigger, period)
    await conn.execute(query("analytics_jobs.mark_job_running"), job_id, row["started_at"])
    run_id: int = row["id"]
    return run_id


async def finish_run(conn: asyncpg.Connection, run_id: int, job_id: str, outcome: RunOutcome) -> None:
    await conn.execute(
        query("analytics_jobs.finish_run"), run_id, outcome.status, outcome.batch_id, outcome.duration_s,
        outcome.rows_ingested, list(outcome.outputs),
        json.dumps(outcome.summary) if outcome.summary is not None else None, outcome.error, outcome.traceback,
    )
    await conn.execute(query("analytics_jobs.mark_job_finished"), job_id, outcome.status)


async def list_runs(conn: asyncpg.Connection, job_id: str, limit: int) -> list[RunRow]:
    return [_run(r) for r in await conn.fetch(query("analytics_jobs.select_runs"), job_id, limit)]


async def claim_due(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    return list(await conn.fetch(query("analytics_jobs.claim_due_jobs"), now))


async def get_run(conn: asyncpg.Connection, run_id: int) -> RunRow | None:
    row = await conn.fetchrow(query("analytics_jobs.select_run"), run_id)
    return _run(row) if row is not None else None
