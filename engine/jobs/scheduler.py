"""The scheduler: one periodic tick (every minute by default, once across all workers) retries the jobs of
dead workers, then asks each due-job source what is due and queues it. Sources are a small registry: the
monitors' windows now; another kind of scheduled job (e.g. analytics batch jobs) adds a source and a task.

Each source queues its own bookkeeping first (monitors: one run row per window, unique), then names the jobs
to defer; a job's `queueing_lock` keeps one queued job per key and its `lock` one running job per key, so a
tick that runs twice, or overlaps another, queues nothing twice."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

from engine.config import Settings
from engine.errors import NotFoundError
from engine.jobs.queue import JobQueue
from engine.services.analytics_jobs.jobs import AnalyticsJobService, JobRunningError, due_analytics_jobs
from engine.services.monitors.runner import queue_due_windows, run_pending
from engine.store.unit import UnitOfWork, unit_from_pool

log = logging.getLogger("driftline.jobs")
TICK = "driftline.tick"
RUN_MONITOR = "driftline.run_monitor"
RUN_ANALYTICS_JOB = "driftline.run_analytics_job"


@dataclass(frozen=True, slots=True)
class DueJob:
    task: str
    args: dict[str, Any]
    lock: str | None = None
    queueing_lock: str | None = None


class DueJobSource(Protocol):
    @property
    def name(self) -> str: ...

    async def due(self, uow: UnitOfWork, now: datetime, settings: Settings) -> list[DueJob]: ...


def monitor_job(monitor_id: int) -> DueJob:
    key = f"monitor:{monitor_id}"
    return DueJob(RUN_MONITOR, {"monitor_id": monitor_id}, lock=key, queueing_lock=key)


@dataclass(frozen=True, slots=True)
class MonitorWindows:
    name: str = "monitors"

    async def due(self, uow: UnitOfWork, now: datetime, settings: Settings) -> list[DueJob]:
        return [monitor_job(m) for m in await queue_due_windows(uow, now, settings.jobs.catchup_max)]


def analytics_job(job_id: str, period: datetime) -> DueJob:
    """One scheduled run of an analytics batch job. Its period was claimed when it became due (each period is
    handed out once); the key keeps one queued and one running job per analytics job."""
    key = f"analytics_job:{job_id}"
    return DueJob(RUN_ANALYTICS_JOB, {"job_id": job_id, "period": period.isoformat()}, lock=key, queueing_lock=key)


@dataclass(frozen=True, slots=True)
class AnalyticsBatches:
    name: str = "analytics_jobs"

    async def due(self, uow: UnitOfWork, now: datetime, settings: Settings) -> list[DueJob]:
        return [analytics_job(d.job_id, d.period) for d in await due_analytics_jobs(uow, now)]


DUE_SOURCES: list[DueJobSource] = [MonitorWindows(), AnalyticsBatches()]


class MonitorQueue:
    """`RunQueue` of the monitor service ("run now") on the job queue."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    async def defer_monitor(self, monitor_id: int) -> bool:
        job = monitor_job(monitor_id)
        return await self.queue.defer(job.task, lock=job.lock, queueing_lock=job.queueing_lock, **job.args)


@dataclass
class Runtime:
    """What the tasks of one worker process share: the asyncpg pool, the queue, the settings."""

    pool: asyncpg.Pool
    queue: JobQueue
    settings: Settings
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    sources: list[DueJobSource] = field(default_factory=lambda: list(DUE_SOURCES))

    async def tick(self, timestamp: int) -> dict[str, int]:
        """One scheduler tick at `timestamp` (the tick's own time, not the time it happens to run)."""
        retried = await self.queue.retry_stalled(self.settings.jobs.stalled_s)
        now = datetime.fromtimestamp(timestamp, UTC)
        deferred = 0
        for source in self.sources:
            async with unit_from_pool(self.pool, share=False) as uow:
                jobs = await source.due(uow, now, self.settings)
            for job in jobs:
                deferred += await self.queue.defer(job.task, lock=job.lock, queueing_lock=job.queueing_lock, **job.args)
        if retried or deferred:
            log.info("tick %s: %d stalled job(s) retried, %d job(s) queued", now.isoformat(), retried, deferred)
        return {"retried": retried, "deferred": deferred}

    async def run_monitor(self, monitor_id: int) -> dict[str, Any]:
        async with unit_from_pool(self.pool, share=False) as uow:
            ran = await run_pending(uow, monitor_id, self.worker)
        return {"runs": ran.runs, "statuses": ran.statuses}

    async def run_analytics_job(self, job_id: str, period: str) -> dict[str, Any]:
        """A scheduled batch run. A job deleted since it was queued, or being run by hand right now, is not an
        error of the queue: the run says so and ends (the manual run covers the same files)."""
        async with unit_from_pool(self.pool, share=False) as uow:
            try:
                done = await AnalyticsJobService(uow, self.settings).run(
                    job_id, trigger="scheduled", period=datetime.fromisoformat(period))
            except (NotFoundError, JobRunningError) as exc:
                log.info("analytics job %s (period %s) not run: %s", job_id, period, exc)
                return {"status": "skipped", "reason": str(exc)}
        return {"status": done.run.status, "batch_id": done.run.batch_id}

    def register(self) -> None:
        self.queue.periodic(TICK, self.settings.jobs.tick_cron, self.tick)
        self.queue.task(RUN_MONITOR, self.run_monitor)
        self.queue.task(RUN_ANALYTICS_JOB, self.run_analytics_job)

    async def work(self, stop: asyncio.Event) -> None:
        j = self.settings.jobs
        await self.queue.run_worker(stop, name=self.worker, concurrency=j.concurrency, heartbeat_s=j.heartbeat_s,
                                    stalled_s=j.stalled_s)
