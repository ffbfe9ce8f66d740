"""Monitors of a model: create / replace (declarative apply, with a diff), read, delete; their run history; "run
now". Queueing a job goes through a `RunQueue` the caller passes in (the job queue lives above the services)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import asyncpg
import msgspec

from engine.domain import ModelSpec
from engine.errors import ConflictError, NotFoundError, RowError, ValidationError
from engine.services.monitors.analyses import KINDS
from engine.services.monitors.spec import (
    AnalysisSpec,
    MonitorBody,
    MonitorConfig,
    format_duration,
    latest_end,
    parse_duration,
    validate,
)
from engine.store import models_repo, monitors_repo
from engine.store.unit import UnitOfWork

MAX_RUNS = 1000
RUN_STATUSES = ("queued", "running", "succeeded", "failed", "no_data")
DEFAULT_NAME = "default"


class RunQueue(Protocol):
    async def defer_monitor(self, monitor_id: int) -> bool:
        """Queue a job that runs the monitor's pending windows; False when one is queued already."""
        ...


class MonitorOut(msgspec.Struct, frozen=True):
    id: int
    model: str
    name: str
    analyses: tuple[AnalysisSpec, ...]
    window: str
    window_seconds: int
    granularity: str
    every: str | None
    cron: str | None
    version: str | None
    segment: dict[str, str]
    min_samples: int
    enabled: bool
    alert_threshold: float
    alert_cooldown_hours: float
    scheduled_until: datetime | None
    created_at: datetime
    updated_at: datetime


class RunOut(msgspec.Struct, frozen=True):
    id: int
    model: str
    monitor: str
    window_start: datetime
    window_end: datetime
    trigger: str
    status: str
    attempt: int
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    rows_read: int | None
    worker: str | None
    error: str | None
    traceback: str | None
    details: dict[str, Any] | None


class RunNowOut(msgspec.Struct, frozen=True):
    model: str
    monitor: str
    noop: bool  # true: this window (or a job of this monitor) was queued already, nothing new was queued
    job_queued: bool  # a new job was put on the queue (false: the queued one will take this window)
    message: str
    run: RunOut | None


class FieldChange(msgspec.Struct, frozen=True):
    field: str
    old: Any
    new: Any


class ApplyOut(msgspec.Struct, frozen=True):
    change: Literal["created", "updated", "unchanged"]
    dry_run: bool
    diff: tuple[FieldChange, ...]
    monitor: MonitorOut | None  # None in a dry run of a monitor that does not exist yet


def monitor_out(r: asyncpg.Record) -> MonitorOut:
    settings = json.loads(r["settings"])
    analyses = tuple(AnalysisSpec(a["kind"], _normalised(a["kind"], a.get("params", {})))
                     for a in json.loads(r["analyses"]))
    return MonitorOut(
        r["id"], r["model"], r["name"], analyses, format_duration(r["window_seconds"]), r["window_seconds"],
        r["granularity"], format_duration(r["every_seconds"]) if r["every_seconds"] else None, r["cron"], r["version"],
        json.loads(r["segment"]), r["min_samples"], r["enabled"], float(settings.get("alert_threshold", 0.1)),
        float(settings.get("alert_cooldown_hours", 24.0)), r["scheduled_until"], r["created_at"], r["updated_at"],
    )


def _normalised(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Stored params with every current default filled in (a parameter added since the monitor was saved shows
    its default, and a declarative re-apply of the same file is "unchanged"); a stored config the engine cannot
    read any more is shown as stored (its runs fail, saying why)."""
    k = KINDS.get(kind)
    if k is None:
        return params
    try:
        out = msgspec.to_builtins(msgspec.convert(params, k.params))
    except msgspec.ValidationError:
        return params
    assert isinstance(out, dict)
    return out


def run_out(r: asyncpg.Record, model: str, monitor: str) -> RunOut:
    d = {k: r[k] for k in r.keys() if k != "monitor_id"}  # noqa: SIM118 (iterating a Record yields values)
    d["details"] = json.loads(d["details"]) if d["details"] is not None else None
    return RunOut(model=model, monitor=monitor, **d)


def _stored(cfg: MonitorConfig) -> dict[str, Any]:
    """The config as JSON values (tuples become lists), as it reads back from the table."""
    out = msgspec.json.decode(msgspec.json.encode(cfg))
    assert isinstance(out, dict)
    return out


def _comparable(m: MonitorOut) -> dict[str, Any]:
    """The user-settable fields of a stored monitor, in the form `validate` returns them."""
    return {
        "analyses": msgspec.json.decode(msgspec.json.encode(m.analyses)), "window_seconds": m.window_seconds, "granularity": m.granularity,
        "every_seconds": _every(m), "cron": m.cron, "version": m.version,
        "segment": m.segment, "min_samples": m.min_samples, "enabled": m.enabled,
        "settings": {"alert_threshold": m.alert_threshold, "alert_cooldown_hours": m.alert_cooldown_hours},
    }


def _every(m: MonitorOut) -> int | None:
    return parse_duration(m.every, "every", []) if m.every is not None else None


def diff(old: MonitorOut | None, cfg: MonitorConfig) -> tuple[FieldChange, ...]:
    new = {k: v for k, v in _stored(cfg).items() if k != "name"}
    before = _comparable(old) if old is not None else dict.fromkeys(new)
    return tuple(FieldChange(k, before[k], new[k]) for k in new if before[k] != new[k])


class MonitorService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def _config(self, conn: asyncpg.Connection, model: str, body: MonitorBody) -> tuple[ModelSpec, MonitorConfig, int | None]:
        info = await models_repo.get_model(conn, model)
        versions = {v.version: v.id for v in await models_repo.list_versions(conn, info.id)}
        cfg = validate(body, info, set(versions))
        return info, cfg, versions.get(cfg.version) if cfg.version is not None else None

    async def create(self, model: str, body: MonitorBody) -> MonitorOut:
        async with self.uow.transaction() as conn:
            info, cfg, version_id = await self._config(conn, model, body)
            if await monitors_repo.insert_monitor(conn, info.id, cfg.name, version_id, _stored(cfg)) is None:
                raise ConflictError(f"model {model!r} has a monitor {cfg.name!r} already (PUT replaces it)")
            return monitor_out(await monitors_repo.get_monitor(conn, info.id, cfg.name, model))

    async def apply(self, model: str, body: MonitorBody, dry_run: bool = False) -> ApplyOut:
        """Create the monitor, or replace its settings with `body` (fields left out take their defaults)."""
        async with self.uow.transaction() as conn:
            info, cfg, version_id = await self._config(conn, model, body)
            row = await _maybe(conn, info.id, cfg.name)
            old = monitor_out(row) if row is not None else None
            changes = diff(old, cfg)
            change: Literal["created", "updated", "unchanged"] = (
                "created" if old is None else "updated" if changes else "unchanged")
            if dry_run or change == "unchanged":
                return ApplyOut(change, dry_run, changes, old)
            if old is None:
                await monitors_repo.insert_monitor(conn, info.id, cfg.name, version_id, _stored(cfg))
            else:
                await monitors_repo.update_monitor(conn, info.id, cfg.name, version_id, _stored(cfg))
            return ApplyOut(change, dry_run, changes,
                            monitor_out(await monitors_repo.get_monitor(conn, info.id, cfg.name, model)))

    async def get(self, model: str, name: str) -> MonitorOut:
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            return monitor_out(await monitors_repo.get_monitor(snap.conn, info.id, name, model))

    async def list(self, model: str | None = None) -> tuple[MonitorOut, ...]:
        async with self.uow.snapshot() as snap:
            model_id = (await models_repo.get_model(snap.conn, model)).id if model is not None else None
            return tuple(monitor_out(r) for r in await monitors_repo.list_monitors(snap.conn, model_id))

    async def delete(self, model: str, name: str) -> MonitorOut:
        """Delete a monitor and its run history (its stored analysis results stay); answers with what was deleted."""
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            out = monitor_out(await monitors_repo.get_monitor(conn, info.id, name, model))
            await monitors_repo.delete_monitor(conn, info.id, name)
            return out

    async def runs(self, model: str, name: str, status: str | None = None, limit: int = 100) -> tuple[RunOut, ...]:
        errs = []
        if status is not None and status not in RUN_STATUSES:
            errs.append(RowError(None, "status", f"one of {', '.join(RUN_STATUSES)}"))
        if not 1 <= limit <= MAX_RUNS:
            errs.append(RowError(None, "limit", f"1 to {MAX_RUNS}"))
        if errs:
            raise ValidationError(errs)
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            m = await monitors_repo.get_monitor(snap.conn, info.id, name, model)
            return tuple(run_out(r, model, name) for r in await monitors_repo.list_runs(snap.conn, m["id"], status, limit))

    async def run(self, model: str, name: str, run_id: int) -> RunOut:
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            m = await monitors_repo.get_monitor(snap.conn, info.id, name, model)
            row = await monitors_repo.get_run(snap.conn, m["id"], run_id)
        if row is None:
            raise NotFoundError(f"monitor {name!r} of {model!r} has no run {run_id}")
        return run_out(row, model, name)

    async def run_now(self, model: str, name: str, queue: RunQueue, end: datetime | None = None,
                      now: datetime | None = None) -> RunNowOut:
        """Queue the window ending at `end` (default: the schedule's latest window end) and a job for it."""
        if end is not None and end.tzinfo is None:
            raise ValidationError([RowError(None, "end", "timezone-aware")])
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            m = monitor_out(await monitors_repo.get_monitor(conn, info.id, name, model))
            stop = end or latest_end(now or datetime.now(UTC), _every(m), m.cron)
            start = stop - timedelta(seconds=m.window_seconds)
            run_id = await monitors_repo.request_run(conn, m.id, start, stop)
        deferred = await queue.defer_monitor(m.id)
        async with self.uow.snapshot() as snap:
            row = await _run_of_window(snap.conn, m.id, start, stop)
        run = run_out(row, model, name) if row is not None else None
        if run_id is None:
            msg = f"window {start.isoformat()} – {stop.isoformat()} is {run.status if run else 'queued'} already: no-op"
        elif not deferred:
            msg = "window queued; a job of this monitor is queued already and runs it (no new job)"
        else:
            msg = "window queued; a job was queued"
        return RunNowOut(model, name, run_id is None, deferred, msg, run)


async def _maybe(conn: asyncpg.Connection, model_id: int, name: str) -> asyncpg.Record | None:
    try:
        return await monitors_repo.get_monitor(conn, model_id, name, "")
    except NotFoundError:
        return None


async def _run_of_window(conn: asyncpg.Connection, monitor_id: int, start: datetime, end: datetime) -> asyncpg.Record | None:
    for r in await monitors_repo.list_runs(conn, monitor_id, None, MAX_RUNS):
        if r["window_start"] == start and r["window_end"] == end:
            return r
    return None


async def ensure_default_monitor(conn: asyncpg.Connection, info: ModelSpec, baseline_content: dict[str, Any]) -> bool:
    """Give a model whose baseline was just activated the default monitor (hourly windows at 1m: drift,
    quality, and degradation when the baseline holds reference metrics, i.e. was labelled), unless it has a
    monitor of that name. True when created. Called by the baseline service in the activating transaction."""
    labelled = bool((baseline_content.get("performance") or {}).get("metrics"))
    kinds = [k for k, v in KINDS.items() if v.needs == "baseline"] + ["quality"]
    if labelled:
        kinds += [k for k, v in KINDS.items() if v.needs == "labelled_baseline"]
    cfg = validate(MonitorBody(DEFAULT_NAME, tuple(AnalysisSpec(k) for k in kinds)), info, set())
    return await monitors_repo.insert_monitor(conn, info.id, DEFAULT_NAME, None, _stored(cfg)) is not None
