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
from engine.jobs.queue import JobQueue
from engine.services.monitors.runner import queue_due_windows, run_pending
from engine.store.unit import UnitOfWork, unit_from_pool

log = logging.getLogger("driftline.jobs")
TICK = "driftline.tick"
RUN_MONITOR = "driftline.run_monitor"


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


DUE_SOURCES: list[DueJobSource] = [MonitorWindows()]


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

    def register(self) -> None:
        self.queue.periodic(TICK, self.settings.jobs.tick_cron, self.tick)
        self.queue.task(RUN_MONITOR, self.run_monitor)

    async def work(self, stop: asyncio.Event) -> None:
        j = self.settings.jobs
        await self.queue.run_worker(stop, name=self.worker, concurrency=j.concurrency, heartbeat_s=j.heartbeat_s,
                                    stalled_s=j.stalled_s)
