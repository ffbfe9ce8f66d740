"""Real `driftline worker` processes on one database: each scheduler tick and each window runs exactly once
across three workers; missed windows are caught up once each (bounded); a worker killed (-9) in the middle of
a run → its job is retried by another worker and the window's results are stored once; a monitor's results
equal the same analyses requested directly for the same window."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import numpy as np
import pytest

from engine.jobs.queue import JobQueue
from engine.jobs.scheduler import MonitorQueue
from engine.services.analyses.degradation import DegradationService
from engine.services.analyses.drift import DriftService
from engine.services.monitors.service import MonitorService
from engine.services.monitors.spec import MonitorBody
from engine.store import models_repo
from engine.store.unit import unit_from_pool
from tests.analyses.support import insert_rows
from tests.monitors.support import CUR_END, data
from tests.monitors.workers import start_worker, stop_all, wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def _runs(pool: asyncpg.Pool, monitor: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT r.* FROM monitor_runs r JOIN monitors m ON m.id = r.monitor_id WHERE m.name = $1 "
        "ORDER BY r.window_end", monitor)


@pytest.mark.timeout(280)
async def test_three_workers_ticks_windows_catchup_and_equal_results(pool: asyncpg.Pool, db_url: str,
                                                                     tmp_path: Path) -> None:
    models = await data(pool)
    churn = models["churn"]
    now = datetime.now(UTC)
    minute = now.replace(second=0, microsecond=0)
    async with pool.acquire() as conn:
        [v1, *_] = await models_repo.list_versions(conn, churn.id)
        # live traffic around now: every minute window of the last 40 minutes has ~20 predictions
        await insert_rows(conn, churn, v1.id, np.random.default_rng(5), minute - timedelta(minutes=40),
                          minute + timedelta(minutes=5), 900, labeled=False, prefix="live")
    async with unit_from_pool(pool) as uow:
        await MonitorService(uow).create("churn", MonitorBody(
            "minutely", window="1m", every="1m", min_samples=5,
            analyses=tuple(msgspec_specs(["drift", "quality"]))))
    # the scheduler "was down" for 30 minutes: at most DRIFTLINE_MONITOR_CATCHUP_MAX (5) windows are caught up
    await pool.execute("UPDATE monitors SET scheduled_until = $1 WHERE name = 'minutely'", minute - timedelta(minutes=30))
    # the default monitors of the other models are not due (their latest hourly window is queued: no data)
    queue = await JobQueue(db_url).open()
    try:
        async with unit_from_pool(pool) as uow:
            ran = await MonitorService(uow).run_now("churn", "default", MonitorQueue(queue), end=CUR_END)
        assert ran.job_queued and not ran.noop
    finally:
        await queue.close()
    procs = [start_worker(db_url, tmp_path / f"w{i}.log", DRIFTLINE_MONITOR_CATCHUP_MAX="5") for i in range(3)]
    try:
        async def settled() -> bool:
            runs = await _runs(pool, "minutely")
            default = [r for r in await _runs(pool, "default") if r["window_end"] == CUR_END]
            return (len(runs) >= 6 and all(r["status"] == "succeeded" for r in runs)
                    and bool(default) and default[0]["status"] == "succeeded")
        await wait_for(settled, 200, "the caught-up windows and the run-now window")

        async def three_ticks() -> bool:  # on a quiet machine the windows settle within two ticks (every 2 s)
            return bool(await pool.fetchval(
                "SELECT count(*) >= 3 FROM procrastinate_jobs WHERE task_name = 'driftline.tick'"))
        await wait_for(three_ticks, 60, "three scheduler ticks")
        ticks = await pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'driftline.tick'")
        distinct = await pool.fetchval("SELECT count(DISTINCT args->>'timestamp') FROM procrastinate_jobs "
                                       "WHERE task_name = 'driftline.tick'")
    finally:
        stop_all(procs)
    logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(3))
    assert all(p.returncode == 0 for p in procs), logs[-4000:]
    assert ticks >= 3 and ticks == distinct, (ticks, distinct)  # each tick once, though three workers defer it
    # a window that closed while the workers stopped may be queued, not run: not part of what is checked
    runs = [r for r in await _runs(pool, "minutely") if r["status"] != "queued"]
    ends = [r["window_end"] for r in runs]
    # caught up: the 5 newest missed windows (not 30), then each new minute once; no gap, no duplicate
    assert ends[0] == minute - timedelta(minutes=4) or ends[0] == minute - timedelta(minutes=3), (ends[0], minute)
    assert ends == [ends[0] + timedelta(minutes=i) for i in range(len(ends))]
    assert all(r["attempt"] == 1 and r["trigger"] == "schedule" and r["rows_read"] >= 5 for r in runs)
    # results stored once per window: the drift rows of each window are one set (one row per feature/statistic)
    rows = await pool.fetch(
        "SELECT window_end, count(*) AS n, count(DISTINCT (subject, statistic)) AS d FROM analysis_results "
        "WHERE run_key = 'monitor:minutely' AND analysis = 'drift' GROUP BY window_end ORDER BY window_end")
    assert [r["window_end"] for r in rows] == ends and all(r["n"] == r["d"] for r in rows)
    print("workers that ran windows:", sorted({r["worker"] for r in runs}))
    # the monitor's results equal the same analyses requested for the same window
    start = CUR_END - timedelta(hours=1)
    async with unit_from_pool(pool) as uow:
        drift = await DriftService(uow).drift("churn", start, CUR_END, persist=False)
        deg = await DegradationService(uow).degradation("churn", start, CUR_END, persist=False)
    stored = {(r["analysis"], r["subject"], r["statistic"]): r["value"] for r in await pool.fetch(
        "SELECT analysis, subject, statistic, value FROM analysis_results WHERE run_key = 'monitor:default' "
        "AND window_start = $1 AND window_end = $2", start, CUR_END)}
    for f in drift.features:
        assert stored[("drift", f.feature, f.method)] == pytest.approx(f.statistic, rel=1e-12, abs=1e-12)
    assert stored[("drift", "*", "share_drifted")] == pytest.approx(drift.share_drifted)
    assert any(k[0] == "quality" for k in stored)
    assert [k for k in stored if k[0] == "degradation"] or not deg.metrics
    run = next(r for r in await _runs(pool, "default") if r["window_end"] == CUR_END)
    details = json.loads(run["details"])
    assert details["drift"]["status"] == "ok" and details["quality"]["status"] == "ok"
    # labels of the current window are absent: degradation has nothing to judge, which is said, not a failure
    assert details["degradation"]["status"] in ("ok", "skipped")


def msgspec_specs(kinds: list[str]) -> list:
    from engine.services.monitors.spec import AnalysisSpec

    return [AnalysisSpec(k) for k in kinds]


@pytest.mark.timeout(280)
async def test_worker_killed_mid_run_is_retried_elsewhere_and_stored_once(pool: asyncpg.Pool, db_url: str,
                                                                          tmp_path: Path) -> None:
    models = await data(pool)
    start = CUR_END - timedelta(hours=1)
    # a committed result row under the run's key, then held (FOR UPDATE) by this test: the worker that runs the
    # window blocks when it replaces the run's results -- the middle of the job
    await pool.execute(
        "INSERT INTO analysis_results (window_start, window_end, model_id, analysis, run_key, subject, statistic, "
        "value, status) VALUES ($1, $2, $3, 'drift', 'monitor:default', 'blocker', 'x', 0, 'info')",
        start, CUR_END, models["churn"].id)
    holder = await pool.acquire()
    tx = holder.transaction()
    await tx.start()
    await holder.execute("SELECT 1 FROM analysis_results WHERE subject = 'blocker' FOR UPDATE")
    procs = [start_worker(db_url, tmp_path / f"w{i}.log") for i in range(2)]
    try:
        queue = await JobQueue(db_url).open()
        try:
            async with unit_from_pool(pool) as uow:
                await MonitorService(uow).run_now("churn", "default", MonitorQueue(queue), end=CUR_END)
        finally:
            await queue.close()

        async def running() -> bool:
            rows = [r for r in await _runs(pool, "default") if r["window_end"] == CUR_END]
            return bool(rows) and rows[0]["status"] == "running"
        await wait_for(running, 60, "a worker to start the run")
        run = next(r for r in await _runs(pool, "default") if r["window_end"] == CUR_END)
        pid = int(run["worker"].rsplit(":", 1)[1])
        victim = next(p for p in procs if p.pid == pid)
        os.kill(pid, signal.SIGKILL)
        victim.wait()
        await tx.rollback()
        await pool.release(holder)
        holder = None

        async def done() -> bool:
            rows = [r for r in await _runs(pool, "default") if r["window_end"] == CUR_END]
            return rows[0]["status"] == "succeeded"
        await wait_for(done, 120, "another worker to retry the stalled run")
    finally:
        if holder is not None:
            await tx.rollback()
            await pool.release(holder)
        stop_all(procs)
    run = next(r for r in await _runs(pool, "default") if r["window_end"] == CUR_END)
    assert run["attempt"] == 2 and int(run["worker"].rsplit(":", 1)[1]) != pid
    counts = await pool.fetch(
        "SELECT analysis, count(*) AS n, count(DISTINCT (subject, statistic)) AS d FROM analysis_results "
        "WHERE run_key = 'monitor:default' AND window_end = $1 GROUP BY analysis", CUR_END)
    assert {r["analysis"] for r in counts} >= {"drift", "quality"} and all(r["n"] == r["d"] for r in counts)
    assert await pool.fetchval("SELECT count(*) FROM analysis_results WHERE subject = 'blocker'") == 0
    stalled = await pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'driftline.run_monitor' "
                                  "AND status = 'doing'")
    assert stalled == 0
