"""`driftline rollups refresh` (once) and `driftline worker` (every --interval seconds until SIGTERM/SIGINT):
the windows refresher (`engine.windows.refresher.refresh`) and, where DRIFTLINE_RETENTION is set on the Apache
edition, raw-row retention (`engine.services.retention.apply_retention`). Both are imported when a command
runs, so the other commands start quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from engine.cli.context import CliContext, UsageError, run_with_pool
from engine.cli.output import emit_json
from engine.errors import DriftlineError
from engine.store.db import create_pool

Refresher = Callable[[asyncpg.Pool], Awaitable[Any]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rollups = sub.add_parser("rollups", help="maintain the 1-minute / hourly / daily windows")
    rsub = rollups.add_subparsers(dest="action", required=True)
    p = rsub.add_parser("refresh", help="bring the rollups up to date once")
    p.set_defaults(handler=refresh_once)
    p = sub.add_parser("worker", help="refresh the rollups (and apply retention) every --interval seconds until stopped")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between refreshes (default 30)")
    p.set_defaults(handler=run_worker)


def load_refresher() -> Refresher:
    from engine.windows.refresher import refresh

    return refresh


def _summary(result: Any) -> Any:
    if result is None:
        return None
    to_dict = getattr(result, "to_dict", None)
    return to_dict() if callable(to_dict) else result


async def _call(refresher: Refresher, pool: asyncpg.Pool) -> Any:
    return await refresher(pool)


def refresh_once(args: argparse.Namespace, ctx: CliContext) -> int:
    refresher = load_refresher()
    result = run_with_pool(ctx.settings, lambda pool: _call(refresher, pool))
    summary = _summary(result)
    if summary is not None:
        emit_json(summary)
    else:
        print("rollups refreshed")
    return 0


async def worker_loop(refresher: Refresher, pool: asyncpg.Pool, interval: float, stop: asyncio.Event) -> int:
    """Refresh, then sleep until the next tick or until `stop` is set. A failed refresh is reported and
    retried on the next tick: a worker outlives a database restart."""
    runs = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            summary = _summary(await _call(refresher, pool))
            runs += 1
            if isinstance(summary, dict) and summary.get("groups"):
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
    from engine.services.retention import apply_retention

    refresh = load_refresher()
    retention = ctx.settings.store.retention

    async def refresher(pool: asyncpg.Pool) -> Any:
        result = await refresh(pool)
        await apply_retention(pool, retention)
        return result

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        pool = await create_pool(ctx.settings.database_url, min_size=1, max_size=4)
        sys.stderr.write(f"driftline worker: refreshing rollups every {args.interval:g} s (SIGTERM/SIGINT to stop)\n")
        try:
            runs = await worker_loop(refresher, pool, args.interval, stop)
        finally:
            await pool.close()
        sys.stderr.write(f"driftline worker: stopped after {runs} refreshes\n")
        return 0

    return asyncio.run(main())
