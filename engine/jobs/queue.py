"""The one door to procrastinate (a PostgreSQL job queue: SKIP LOCKED fetch, LISTEN/NOTIFY, per-key `lock`
and `queueing_lock`, worker heartbeats). It speaks psycopg 3, so it has a small psycopg pool of its own;
everything else in driftline uses asyncpg. Its schema is applied by migration 0008 (frozen SQL), never here.

Tasks are registered by name with plain async functions taking JSON-able keyword arguments; nothing outside
this module sees a procrastinate object."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate import App, PsycopgConnector
from procrastinate import periodic as procrastinate_periodic
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Status

Handler = Callable[..., Awaitable[Any]]
log = logging.getLogger("driftline.jobs")


# procrastinate's periodic deferrer sleeps until the next cron time plus `procrastinate.periodic.MARGIN`
# (0.5 s) "to avoid waking up too early"; waking early is harmless there (nothing is due yet, it sleeps the few
# milliseconds left and checks again), and that half second was most of the time from a monitor window's end
# to its results (bench/results/monitors.md). A worker process runs one queue, so setting it here is local to
# the process that owns the queue.
PERIODIC_MARGIN_S = 0.02


class JobQueue:
    def __init__(self, database_url: str, *, pool_max: int = 2, periodic_margin_s: float = PERIODIC_MARGIN_S) -> None:
        self._app = App(connector=PsycopgConnector(conninfo=database_url, min_size=1, max_size=pool_max))
        self._open = False
        procrastinate_periodic.MARGIN = periodic_margin_s

    async def open(self) -> JobQueue:
        await self._app.open_async()
        self._open = True
        return self

    async def close(self) -> None:
        if self._open:
            await self._app.close_async()
            self._open = False

    def task(self, name: str, handler: Handler) -> None:
        self._app.task(name=name)(handler)

    def periodic(self, name: str, cron: str, handler: Handler) -> None:
        """`handler(timestamp=<the tick, Unix seconds>)` once per tick of `cron` across all workers (the
        queue records each deferred tick). Cron: 5 fields, or 6 with the SECONDS field LAST."""
        task = self._app.task(name=name, queueing_lock=name)(handler)
        self._app.periodic(cron=cron, periodic_id=name)(task)

    async def defer(self, name: str, *, lock: str | None = None, queueing_lock: str | None = None,
                    **kwargs: Any) -> bool:
        """Queue a job of task `name`; False when a job with the same `queueing_lock` is queued already.
        Jobs sharing a `lock` never run at the same time."""
        try:
            await self._app.configure_task(name, lock=lock, queueing_lock=queueing_lock).defer_async(**kwargs)
        except AlreadyEnqueued:
            return False
        return True

    async def retry_stalled(self, seconds_since_heartbeat: float) -> int:
        """Put back on the queue the running jobs of workers whose heartbeat is older than this (a worker
        killed mid-job). A job whose queueing lock is taken by a queued twin is ended instead: the twin does
        its work."""
        manager = self._app.job_manager
        n = 0
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat):
            try:
                await manager.retry_job(job)
                n += 1
            except UniqueViolation as exc:  # the queueing lock's unique index refused the retry
                log.warning("stalled job %s not retried (%s); ending it", job.id, exc)
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
        return n

    async def run_worker(self, stop: asyncio.Event, *, name: str, concurrency: int, heartbeat_s: float,
                         stalled_s: float, graceful_s: float = 30.0) -> None:
        """Fetch and run jobs (and defer the periodic ones) until `stop` is set; running jobs then get
        `graceful_s` to finish."""
        worker = asyncio.create_task(self._app.run_worker_async(
            name=name, concurrency=concurrency, update_heartbeat_interval=heartbeat_s,
            stalled_worker_timeout=stalled_s, shutdown_graceful_timeout=graceful_s, install_signal_handlers=False,
            fetch_job_polling_interval=5.0))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not worker.done():
            worker.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

