"""Analytics jobs (the seed's `BatchScheduler.add_job` / `/analytics/jobs`): create (idempotent on the same
body, a conflict on a different one), list, inspect, delete, run now, run history, and the schedule
(`due_analytics_jobs`).

A run holds a per-job PostgreSQL advisory lock (session level, so that it spans the run's transactions and
is released by PostgreSQL if the process dies): a second run of the same job while one is going is refused
with `JobRunningError` (a conflict), on any host. The run is recorded as 'running' first and finished as
'succeeded' (with the batch summary) or 'failed' (with the error and its traceback); a run left 'running'
by a process that died is marked failed by the next run of its job.
"""

from __future__ import annotations

import time
import traceback
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from engine.config import Settings
from engine.errors import ConflictError, NotFoundError, RowError, ValidationError
from engine.services.analytics_jobs.batch import BatchResult, run_batch_job
from engine.services.analytics_jobs.inputs import checked_inputs
from engine.store import analytics_jobs_repo as repo
from engine.store import models_repo
from engine.store.analytics_jobs_repo import JobRow, RunOutcome, RunRow
from engine.store.unit import UnitOfWork

Frequency = Literal["daily", "hourly", "weekly"]
JobId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
                                    description="letters, digits, '_', '.', '-'; at most 128 characters")]
ServerPath = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
MAX_JOBS = 10_000
MAX_TRACEBACK = 20_000


class NewAnalyticsJob(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The seed's job body. Paths are server-side Parquet files under DRIFTLINE_ANALYTICS_INPUT_ROOT
    (relative to it, or absolute inside it)."""

    job_id: JobId
    model_name: str
    metrics_path: ServerPath
    predictions_path: ServerPath
    frequency: Frequency = "daily"


class AnalyticsJob(msgspec.Struct, frozen=True):
    job_id: str
    model_name: str
    metrics_path: str
    predictions_path: str
    frequency: str
    enabled: bool
    created_at: datetime
    last_period: datetime | None  # start of the newest schedule period handed out
    last_run_at: datetime | None
    last_status: str | None  # running | succeeded | failed


class AnalyticsJobList(msgspec.Struct, frozen=True):
    jobs: tuple[AnalyticsJob, ...]


class AnalyticsJobRun(msgspec.Struct, frozen=True):
    id: int
    job_id: str
    batch_id: str | None
    trigger: str  # manual | scheduled
    period: datetime | None  # the schedule period of a scheduled run
    status: str  # running | succeeded | failed
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    rows_ingested: int | None
    outputs: tuple[str, ...]
    error: str | None
    traceback: str | None


class AnalyticsJobRuns(msgspec.Struct, frozen=True):
    job_id: str
    runs: tuple[AnalyticsJobRun, ...]


class AnalyticsJobRunResult(msgspec.Struct, frozen=True):
    """A finished run: its history record and, when it succeeded, the batch summary."""

    run: AnalyticsJobRun
    result: BatchResult | None


class DueJob(msgspec.Struct, frozen=True):
    job_id: str
    frequency: str
    period: datetime  # start of the UTC hour, day or ISO week the run is for


class JobRunningError(ConflictError):
    """The job is being run by another caller."""


def _job(r: JobRow) -> AnalyticsJob:
    return AnalyticsJob(r.job_id, r.model_name, r.metrics_path, r.predictions_path, r.frequency, r.enabled,
                        r.created_at, r.last_period, r.last_run_at, r.last_status)


def _run(r: RunRow) -> AnalyticsJobRun:
    return AnalyticsJobRun(r.id, r.job_id, r.batch_id, r.trigger, r.period, r.status, r.started_at, r.finished_at,
                           r.duration_s, r.rows_ingested, r.outputs, r.error, r.traceback)


def _same(r: JobRow, new: NewAnalyticsJob) -> bool:
    return (r.model_name, r.metrics_path, r.predictions_path, r.frequency) == (
        new.model_name, new.metrics_path, new.predictions_path, new.frequency)


async def due_analytics_jobs(uow: UnitOfWork, now: datetime) -> list[DueJob]:
    """Claim the jobs due at `now`: every enabled job whose current period (UTC hour, day or ISO week, by its
    frequency) has not been handed out yet. Each (job, period) is returned once, whoever calls and however
    often (one UPDATE … RETURNING). Call it in the transaction that queues the runs, so that a rollback
    gives the periods back."""
    if now.tzinfo is None:
        raise ValidationError([RowError(None, "now", "must be timezone-aware")])
    async with uow.transaction() as conn:
        rows = await repo.claim_due(conn, now)
    return sorted((DueJob(r["job_id"], r["frequency"], r["period"]) for r in rows), key=lambda d: d.job_id)


class AnalyticsJobService:
    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow = uow
        self.settings = settings

    async def _get(self, job_id: str) -> JobRow:
        row = await repo.get_job(self.uow.conn, job_id)
        if row is None:
            raise NotFoundError(f"no analytics job {job_id!r}")
        return row

    async def create(self, new: NewAnalyticsJob) -> tuple[AnalyticsJob, bool]:
        """(the job, True) when created; (the stored job, False) when the same body was sent before."""
        conn = self.uow.conn
        try:
            model = await models_repo.get_model(conn, new.model_name)
        except NotFoundError as exc:
            raise ValidationError([RowError(None, "model_name", str(exc))]) from exc
        checked_inputs(self.settings.analytics.input_root, model, new.metrics_path, new.predictions_path)
        async with self.uow.transaction():
            created = await repo.insert_job(conn, new.job_id, model.id, new.metrics_path, new.predictions_path,
                                            new.frequency)
            row = await self._get(new.job_id)
        if not created and not _same(row, new):
            raise ConflictError(f"analytics job {new.job_id!r} exists with a different body; delete it first")
        return _job(row), created

    async def list(self) -> AnalyticsJobList:
        return AnalyticsJobList(tuple(_job(r) for r in await repo.list_jobs(self.uow.conn, MAX_JOBS)))

    async def get(self, job_id: str) -> AnalyticsJob:
        return _job(await self._get(job_id))

    async def delete(self, job_id: str) -> AnalyticsJob:
        async with self.uow.transaction() as conn:
            row = await self._get(job_id)
            await repo.delete_job(conn, job_id)
        return _job(row)

    async def runs(self, job_id: str, limit: int = 100) -> AnalyticsJobRuns:
        if not 1 <= limit <= 1000:
            raise ValidationError([RowError(None, "limit", "1 to 1000")])
        await self._get(job_id)
        return AnalyticsJobRuns(job_id, tuple(_run(r) for r in await repo.list_runs(self.uow.conn, job_id, limit)))

    async def run(self, job_id: str, *, trigger: Literal["manual", "scheduled"] = "manual",
                  period: datetime | None = None) -> AnalyticsJobRunResult:
        """Run the job's batch now, on this unit's connection (not inside a transaction: the run commits
        its record, its ingest and its analyses step by step)."""
        conn = self.uow.conn
        job = await self._get(job_id)
        if not await repo.try_lock(conn, job.lock_id):
            running = await repo.running_run(conn, job_id)
            since = f" (run {running['id']}, started {running['started_at'].isoformat()})" if running else ""
            raise JobRunningError(f"analytics job {job_id!r} is already running{since}")
        try:
            async with self.uow.transaction():
                run_id = await repo.start_run(conn, job_id, trigger, period)
            clock = time.perf_counter()
            result: BatchResult | None = None
            try:
                result = await run_batch_job(self.uow, self.settings, job.metrics_path, job.predictions_path,
                                             job.model_name)
                outcome = RunOutcome("succeeded", result.batch_id, time.perf_counter() - clock, result.rows_ingested,
                                     result.outputs, msgspec.to_builtins(result), None, None)
            except Exception as exc:  # the run's failure is its result: recorded, with its traceback
                outcome = RunOutcome("failed", None, time.perf_counter() - clock, None, (), None,
                                     f"{type(exc).__name__}: {exc}"[:2000], traceback.format_exc()[-MAX_TRACEBACK:])
            async with self.uow.transaction():
                await repo.finish_run(conn, run_id, job_id, outcome)
            record = await repo.get_run(conn, run_id)
        finally:
            await repo.unlock(conn, job.lock_id)
        if record is None:  # the job (and its history) was deleted while it ran
            raise NotFoundError(f"analytics job {job_id!r} was deleted while it ran")
        return AnalyticsJobRunResult(_run(record), result)
