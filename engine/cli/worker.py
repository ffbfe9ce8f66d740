"""`driftline rollups refresh` (once) and `driftline worker` (every --interval seconds until SIGTERM/SIGINT).

The refresher lives in `engine.windows.refresh`; it is imported when a command runs, so the rest of the CLI
works in a build without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncpg

from engine.cli.context import CliContext, UsageError, run_with_pool
from engine.cli.output import emit_json
from engine.errors import DriftlineError
from engine.store.db import create_pool

Refresher = Callable[[asyncpg.Pool], Awaitable[Any]]


class RollupsUnavailableError(DriftlineError):
    """This build has no rollup refresher."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rollups = sub.add_parser("rollups", help="maintain the 1-minute / hourly / daily windows")
    rsub = rollups.add_subparsers(dest="action", required=True)
    p = rsub.add_parser("refresh", help="bring the rollups up to date once")
    p.set_defaults(handler=refresh_once)
    p = sub.add_parser("worker", help="refresh the rollups every --interval seconds until stopped")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between refreshes (default 30)")
    p.set_defaults(handler=run_worker)


def load_refresher() -> Refresher:
    """`refresh(pool)` from the windows package (`engine.windows.refresher`; `engine.windows.refresh` is
    accepted too), or RollupsUnavailableError."""
    for name in ("engine.windows.refresher", "engine.windows.refresh"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        refresh = getattr(module, "refresh", None)
        if callable(refresh):
            return cast(Refresher, refresh)
    raise RollupsUnavailableError("rollups not available in this build")


def _summary(result: Any) -> Any:
    if result is None:
        return None
    to_dict = getattr(result, "to_dict", None)
    return to_dict() if callable(to_dict) else result


async def _call(refresher: Refresher, pool: asyncpg.Pool) -> Any:
    result = refresher(pool)
    return await result if inspect.isawaitable(result) else result


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
    refresher = load_refresher()

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
