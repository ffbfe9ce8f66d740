"""`driftline rollups refresh` (once) and `driftline worker` (every --interval seconds until SIGTERM/SIGINT, and
the job queue's worker beside it: the scheduler's tick and the monitors' runs, `engine.jobs.scheduler`):
the windows refresher (`engine.rollups.refresher.refresh`), where DRIFTLINE_RETENTION is set on the Apache
edition raw-row retention (`engine.services.retention.apply_retention`), and on both editions the label
horizon of the prediction-time lookup (`prune_prediction_times`). They are imported when a command runs, so
the other commands start quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

import asyncpg

from engine.cli.context import CliContext, UsageError, run_in_unit
from engine.cli.output import emit_json
from engine.config import JobSettings, Settings
from engine.errors import DriftlineError
from engine.store.db import create_pool
from engine.store.unit import UnitOfWork, unit_from_pool


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rollups = sub.add_parser("rollups", help="maintain the 1-minute / hourly / daily windows")
    rsub = rollups.add_subparsers(dest="action", required=True)
    p = rsub.add_parser("refresh", help="bring the rollups up to date once")
    p.set_defaults(handler=refresh_once)
    p = sub.add_parser("worker", help="run the jobs (monitors, scheduler) and refresh the rollups (and apply "
                       "retention) every --interval seconds until stopped")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between refreshes (default 30)")
    p.add_argument("--no-jobs", action="store_true", help="only refresh the rollups: no job queue, no scheduler")
    p.set_defaults(handler=run_worker)


def refresh_once(args: argparse.Namespace, ctx: CliContext) -> int:
    from engine.rollups.refresher import refresh

    async def work(uow: UnitOfWork) -> Any:
        return await refresh(uow)

    emit_json(run_in_unit(ctx.settings, work).to_dict())
    return 0


async def worker_tick(
    uow: UnitOfWork, retention: str | None, ingest_log_retention: str | None = None,
    label_horizon: str | None = None, jobs: JobSettings | None = None,
) -> dict[str, Any]:
    """One run of the worker's job on the run's unit of work: refresh the windows, then apply retention (raw
    rows; the ingest log: rejected_rows and ingest_batches; the prediction-time lookup: the label horizon;
    with `jobs`, the job queue's finished jobs and the monitors' finished runs)."""
    from engine.rollups.refresher import refresh
    from engine.services.retention import (
        apply_ingest_log_retention,
        apply_job_retention,
        apply_retention,
        prune_prediction_times,
    )

    report = await refresh(uow)
    await apply_retention(uow, retention)
    pruned = await apply_ingest_log_retention(uow, ingest_log_retention)
    await prune_prediction_times(uow, label_horizon, retention)
    out = {**report.to_dict(), "ingest_log_deleted": pruned}
    if jobs is not None:
        out["job_history_deleted"] = await apply_job_retention(uow, jobs.job_retention, jobs.monitor_run_retention)
    return out


async def worker_loop(pool: asyncpg.Pool, retention: str | None, interval: float, stop: asyncio.Event,
                      ingest_log_retention: str | None = None, label_horizon: str | None = None,
                      jobs: JobSettings | None = None) -> int:
    """A tick, then sleep until the next one or until `stop` is set; each tick takes one connection from
    `pool` for its whole run. A failed tick is reported and retried on the next: a worker outlives a
    database restart."""
    runs = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            async with unit_from_pool(pool, share=False) as uow:
                summary = await worker_tick(uow, retention, ingest_log_retention, label_horizon, jobs)
            runs += 1
            if summary.get("groups") or summary.get("failed"):
                sys.stderr.write(f"driftline worker: refreshed {json.dumps(summary)}\n")
        except (DriftlineError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            sys.stderr.write(f"driftline worker: refresh failed: {exc}\n")
        remaining = max(0.0, interval - (time.monotonic() - started))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=remaining)
    return runs


async def start_jobs(pool: asyncpg.Pool, settings: Settings) -> Any:
    """The job queue (its own small psycopg pool) with the scheduler's tick and the tasks registered."""
    from engine.jobs.queue import JobQueue
    from engine.jobs.scheduler import Runtime

    queue = await JobQueue(settings.database_url, pool_max=2).open()
    runtime = Runtime(pool, queue, settings)
    runtime.register()
    return runtime


def run_worker(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.interval <= 0:
        raise UsageError("worker: --interval must be > 0")

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        jobs = None if args.no_jobs else ctx.settings.jobs.concurrency
        pool = await create_pool(ctx.settings.database_url, min_size=1, max_size=2 + (jobs or 0))
        sys.stderr.write(f"driftline worker: refreshing rollups every {args.interval:g} s"
                         + (f", running jobs ({jobs} at a time)" if jobs else "") + " (SIGTERM/SIGINT to stop)\n")
        runtime = None
        try:
            if jobs:
                runtime = await start_jobs(pool, ctx.settings)
                job_worker = asyncio.create_task(runtime.work(stop))
            runs = await worker_loop(pool, ctx.settings.store.retention, args.interval, stop,
                                     ctx.settings.ingest_log_retention, ctx.settings.store.label_horizon,
                                     None if args.no_jobs else ctx.settings.jobs)
            if runtime is not None:
                await job_worker
        finally:
            if runtime is not None:
                await runtime.queue.close()
            await pool.close()
        sys.stderr.write(f"driftline worker: stopped after {runs} refreshes\n")
        return 0

    return asyncio.run(main())
