"""`driftline rollups refresh` (once) and `driftline worker` (every --interval seconds until SIGTERM/SIGINT):
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
from engine.errors import DriftlineError
from engine.store.db import create_pool
from engine.store.unit import UnitOfWork, unit_from_pool


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rollups = sub.add_parser("rollups", help="maintain the 1-minute / hourly / daily windows")
    rsub = rollups.add_subparsers(dest="action", required=True)
    p = rsub.add_parser("refresh", help="bring the rollups up to date once")
    p.set_defaults(handler=refresh_once)
    p = sub.add_parser("worker", help="refresh the rollups (and apply retention) every --interval seconds until stopped")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between refreshes (default 30)")
    p.set_defaults(handler=run_worker)


def refresh_once(args: argparse.Namespace, ctx: CliContext) -> int:
    from engine.rollups.refresher import refresh

    async def work(uow: UnitOfWork) -> Any:
        return await refresh(uow)

    emit_json(run_in_unit(ctx.settings, work).to_dict())
    return 0


async def worker_tick(
    uow: UnitOfWork, retention: str | None, ingest_log_retention: str | None = None,
    label_horizon: str | None = None,
) -> dict[str, Any]:
    """One run of the worker's job on the run's unit of work: refresh the windows, then apply retention (raw
    rows; the ingest log: rejected_rows and ingest_batches; the prediction-time lookup: the label horizon)."""
    from engine.rollups.refresher import refresh
    from engine.services.retention import apply_ingest_log_retention, apply_retention, prune_prediction_times

    report = await refresh(uow)
    await apply_retention(uow, retention)
    pruned = await apply_ingest_log_retention(uow, ingest_log_retention)
    await prune_prediction_times(uow, label_horizon, retention)
    return {**report.to_dict(), "ingest_log_deleted": pruned}


async def worker_loop(pool: asyncpg.Pool, retention: str | None, interval: float, stop: asyncio.Event,
                      ingest_log_retention: str | None = None, label_horizon: str | None = None) -> int:
    """A tick, then sleep until the next one or until `stop` is set; each tick takes one connection from
    `pool` for its whole run. A failed tick is reported and retried on the next: a worker outlives a
    database restart."""
    runs = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            async with unit_from_pool(pool, share=False) as uow:
                summary = await worker_tick(uow, retention, ingest_log_retention, label_horizon)
            runs += 1
            if summary.get("groups") or summary.get("failed"):
                sys.stderr.write(f"driftline worker: refreshed {json.dumps(summary)}\n")
        except (DriftlineError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            sys.stderr.write(f"driftline worker: refresh failed: {exc}\n")
        remaining = max(0.0, interval - (time.monotonic() - started))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=remaining)
    return runs


def run_worker(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.interval <= 0:
        raise UsageError("worker: --interval must be > 0")

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        pool = await create_pool(ctx.settings.database_url, min_size=1, max_size=2)
        sys.stderr.write(f"driftline worker: refreshing rollups every {args.interval:g} s (SIGTERM/SIGINT to stop)\n")
        try:
            runs = await worker_loop(pool, ctx.settings.store.retention, args.interval, stop,
                                     ctx.settings.ingest_log_retention, ctx.settings.store.label_horizon)
        finally:
            await pool.close()
        sys.stderr.write(f"driftline worker: stopped after {runs} refreshes\n")
        return 0

    return asyncio.run(main())
