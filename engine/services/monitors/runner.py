"""What the jobs do for monitors: queue the windows that are due (the scheduler's tick), and run a monitor's
pending windows one after the other (the monitor's job; the job queue makes sure one job per monitor runs at
a time). A window's results and its run record commit together; a failure records the error and traceback
instead. A run left 'running' by a worker that died runs again (attempt + 1) and replaces its results."""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from engine.errors import NotFoundError, ValidationError
from engine.services.analyses.window_state import window_metrics
from engine.services.monitors.analyses import KINDS, MonitorWindow
from engine.store import models_repo, monitors_repo, results_repo
from engine.store.results_repo import ResultRow, RunKey
from engine.store.unit import Snapshot, UnitOfWork

MAX_ERROR = 2000


def run_key(monitor: str) -> str:
    return f"monitor:{monitor}"


async def queue_due_windows(uow: UnitOfWork, now: datetime, catchup_max: int) -> list[int]:
    """Queue every enabled monitor's windows that ended since its last queued one (at most `catchup_max`
    each, the newest), and answer the monitors that have windows to run (queued, or left running)."""
    from engine.services.monitors.spec import due_ends

    async with uow.transaction() as conn:
        for m in await monitors_repo.schedulable(conn):
            ends = due_ends(m["scheduled_until"], now, m["every_seconds"], m["cron"], catchup_max)
            span = timedelta(seconds=m["window_seconds"])
            for end in ends:
                await monitors_repo.queue_run(conn, m["id"], end - span, end, "schedule")
            if ends:
                await monitors_repo.set_scheduled_until(conn, m["id"], ends[-1])
        return await monitors_repo.pending_monitors(conn)


@dataclass
class Ran:
    runs: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


async def run_pending(uow: UnitOfWork, monitor_id: int, worker: str, max_runs: int = 1000) -> Ran:
    """Run the monitor's pending windows, oldest first."""
    out = Ran()
    while out.runs < max_runs:
        async with uow.transaction() as conn:
            row = await monitors_repo.next_pending_run(conn, monitor_id)
            if row is None:
                break
            await monitors_repo.start_run(conn, row["id"], worker)
        status = await _run_window(uow, monitor_id, row["id"], row["window_start"], row["window_end"])
        out.runs += 1
        out.statuses[status] = out.statuses.get(status, 0) + 1
    return out


async def _run_window(uow: UnitOfWork, monitor_id: int, run_id: int, start: datetime, end: datetime) -> str:
    t0 = time.monotonic()
    try:
        async with uow.transaction() as conn:
            m = await monitors_repo.get_monitor_by_id(conn, monitor_id)
            if m is None:
                return "deleted"
            info = await models_repo.get_model(conn, m["model"])
            segment: dict[str, str] = json.loads(m["segment"])
            w = MonitorWindow(info, start, end, m["granularity"], segment, run_key(m["name"]), m["version"],
                              m["version_id"], m["every_seconds"], m["cron"], m["min_samples"])
            seen = await window_metrics(Snapshot(conn), info, start, end, {"count"}, tuple(sorted(segment.items())),
                                        m["version_id"])
            n = int(seen.values.get("count") or 0) if seen is not None else 0
            analyses = json.loads(m["analyses"])
            details: dict[str, dict[str, object]] = {}
            rows_read: int | None = n
            if n < m["min_samples"]:
                status = "no_data"
                for a in analyses:
                    no_data = ResultRow("*", "n", float(n), float(m["min_samples"]), None, "no_data", n,
                                        {"reason": f"{n} predictions in the window, fewer than min_samples"})
                    await results_repo.replace_run(
                        conn, RunKey(info.id, a["kind"], start, end, w.run_key, version_id=m["version_id"] or 0,
                               segment=segment or None), [no_data], None)
                    details[a["kind"]] = {"status": "no_data", "n": n}
            else:
                status = "succeeded"
                for a in analyses:
                    kind = KINDS[a["kind"]]
                    params = msgspec.convert(a.get("params", {}), kind.params)
                    try:
                        async with uow.transaction():  # a savepoint: a skipped analysis leaves no half-written rows
                            used = await kind.run(uow, w, params)
                        details[a["kind"]] = {"status": "ok", "n": used}
                    except (ValidationError, NotFoundError) as exc:
                        # what the model's data cannot support (no baseline, no labelled reference...): said, not failed
                        details[a["kind"]] = {"status": "skipped", "reason": str(exc)[:MAX_ERROR]}
            await monitors_repo.finish_run(conn, run_id, status, rows_read, None, None, details)
            return status
    except Exception as exc:  # recorded on the run, then the next window; the job itself does not fail
        tb = traceback.format_exc()
        async with uow.transaction() as conn:
            await monitors_repo.finish_run(conn, run_id, "failed", None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR],
                                           tb[-20_000:], {"elapsed_s": round(time.monotonic() - t0, 3)})
        return "failed"
