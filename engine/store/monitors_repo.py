"""Monitors and monitor runs (migration 0008): the statements of sql/queries/monitors.sql, on the caller's
connection."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from engine.errors import NotFoundError
from engine.store.sqlfiles import query


def _args(model_id: int, name: str, version_id: int | None, cfg: dict[str, Any]) -> tuple[Any, ...]:
    return (model_id, name, version_id, json.dumps(cfg["segment"], sort_keys=True), json.dumps(cfg["analyses"]),
            cfg["window_seconds"], cfg["granularity"], cfg["every_seconds"], cfg["cron"], cfg["min_samples"],
            cfg["enabled"], json.dumps(cfg["settings"], sort_keys=True))


async def insert_monitor(conn: asyncpg.Connection, model_id: int, name: str, version_id: int | None,
                         cfg: dict[str, Any]) -> int | None:
    """The new monitor's id, or None when the model has a monitor of that name already."""
    value: int | None = await conn.fetchval(query("monitors.insert_monitor"), *_args(model_id, name, version_id, cfg))
    return value


async def update_monitor(conn: asyncpg.Connection, model_id: int, name: str, version_id: int | None,
                         cfg: dict[str, Any]) -> int | None:
    value: int | None = await conn.fetchval(query("monitors.update_monitor"), *_args(model_id, name, version_id, cfg))
    return value


async def get_monitor(conn: asyncpg.Connection, model_id: int, name: str, model: str) -> asyncpg.Record:
    row = await conn.fetchrow(query("monitors.get_monitor"), model_id, name)
    if row is None:
        raise NotFoundError(f"model {model!r} has no monitor {name!r}")
    return row


async def get_monitor_by_id(conn: asyncpg.Connection, monitor_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(query("monitors.get_monitor_by_id"), monitor_id)


async def list_monitors(conn: asyncpg.Connection, model_id: int | None) -> list[asyncpg.Record]:
    return await conn.fetch(query("monitors.list_monitors"), model_id)


async def delete_monitor(conn: asyncpg.Connection, model_id: int, name: str) -> int | None:
    value: int | None = await conn.fetchval(query("monitors.delete_monitor"), model_id, name)
    return value


async def schedulable(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Enabled monitors, locked for this tick (call inside a transaction); one another tick holds are skipped."""
    return await conn.fetch(query("monitors.schedulable"))


async def queue_run(conn: asyncpg.Connection, monitor_id: int, start: datetime, end: datetime, trigger: str) -> int | None:
    value: int | None = await conn.fetchval(query("monitors.queue_run"), monitor_id, start, end, trigger)
    return value


async def set_scheduled_until(conn: asyncpg.Connection, monitor_id: int, end: datetime) -> None:
    await conn.execute(query("monitors.set_scheduled_until"), monitor_id, end)


async def request_run(conn: asyncpg.Connection, monitor_id: int, start: datetime, end: datetime) -> int | None:
    """Queue the window (again); None when it is queued or running already."""
    value: int | None = await conn.fetchval(query("monitors.request_run"), monitor_id, start, end)
    return value


async def pending_monitors(conn: asyncpg.Connection) -> list[int]:
    return [r["monitor_id"] for r in await conn.fetch(query("monitors.pending_monitors"))]


async def next_pending_run(conn: asyncpg.Connection, monitor_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(query("monitors.next_pending_run"), monitor_id)


async def start_run(conn: asyncpg.Connection, run_id: int, worker: str) -> int:
    value: int = await conn.fetchval(query("monitors.start_run"), run_id, worker)
    return value


async def finish_run(conn: asyncpg.Connection, run_id: int, status: str, rows_read: int | None, error: str | None,
                     traceback: str | None, details: dict[str, Any] | None) -> None:
    await conn.execute(query("monitors.finish_run"), run_id, status, rows_read, error, traceback,
                       json.dumps(details) if details is not None else None)


async def list_runs(conn: asyncpg.Connection, monitor_id: int, status: str | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(query("monitors.list_runs"), monitor_id, status, limit)


async def get_run(conn: asyncpg.Connection, monitor_id: int, run_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(query("monitors.get_run"), monitor_id, run_id)
