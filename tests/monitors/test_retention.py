"""Retention of the job history: the worker deletes the queue's finished jobs (with their events) older than
DRIFTLINE_JOB_RETENTION and the monitors' finished runs older than DRIFTLINE_MONITOR_RUN_RETENTION; queued and
running ones, and recent ones, stay."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from engine.cli.worker import worker_tick
from engine.config import JobSettings, Settings, SettingsError
from engine.jobs.queue import JobQueue
from engine.store.unit import unit_from_pool
from tests.monitors.support import CUR_END, data

pytestmark = pytest.mark.asyncio


def test_settings() -> None:
    jobs = Settings.from_env({}).jobs
    assert (jobs.job_retention, jobs.monitor_run_retention) == ("7 days", "90 days")
    jobs = Settings.from_env({"DRIFTLINE_JOB_RETENTION": "36 hours", "DRIFTLINE_MONITOR_RUN_RETENTION": "none"}).jobs
    assert (jobs.job_retention, jobs.monitor_run_retention) == ("36 hours", None)
    with pytest.raises(SettingsError, match="DRIFTLINE_JOB_RETENTION"):
        Settings.from_env({"DRIFTLINE_JOB_RETENTION": "1 day; DROP TABLE x"})


async def _age_job(pool: asyncpg.Pool, job_id: int, status: str | None, days: float) -> None:
    if status is not None:  # procrastinate's trigger records the status change as an event: age it afterwards
        await pool.execute("UPDATE procrastinate_jobs SET status = $2::procrastinate_job_status WHERE id = $1",
                           job_id, status)
    await pool.execute("UPDATE procrastinate_events SET at = now() - make_interval(secs => $2) WHERE job_id = $1",
                       job_id, days * 86400)


async def test_worker_deletes_old_finished_jobs_and_runs(pool: asyncpg.Pool, db_url: str) -> None:
    await data(pool)
    queue = await JobQueue(db_url).open()
    try:
        for i in range(5):
            assert await queue.defer("driftline.test_noop", queueing_lock=f"k{i}", i=i)
    finally:
        await queue.close()
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM procrastinate_jobs ORDER BY id")]
    old_ok, old_failed, old_cancelled, recent_ok, old_todo = ids
    await _age_job(pool, old_ok, "succeeded", 8)
    await _age_job(pool, old_failed, "failed", 8)
    await _age_job(pool, old_cancelled, "cancelled", 30)
    await _age_job(pool, recent_ok, "succeeded", 6)  # younger than 7 days: kept
    await _age_job(pool, old_todo, None, 30)  # still queued: kept, however old
    # monitor runs: the default monitor of each model; three windows each, finished long ago / recently / queued
    monitors = [r["id"] for r in await pool.fetch("SELECT id FROM monitors ORDER BY id")]
    for m in monitors:
        for k, (status, age) in enumerate((("succeeded", 120), ("failed", 91), ("no_data", 10), ("queued", 200))):
            end = CUR_END - timedelta(hours=k)
            await pool.execute(
                "INSERT INTO monitor_runs (monitor_id, window_start, window_end, trigger, status, queued_at, "
                "finished_at) VALUES ($1, $2, $3, 'schedule', $4, now() - make_interval(days => $5), "
                "CASE WHEN $4 = 'queued' THEN NULL ELSE now() - make_interval(days => $5) END)",
                m, end - timedelta(hours=1), end, status, age)
    events_before = await pool.fetchval("SELECT count(*) FROM procrastinate_events WHERE job_id = ANY($1)",
                                        [old_ok, old_failed, old_cancelled])
    assert events_before >= 6
    async with unit_from_pool(pool, share=False) as uow:
        summary = await worker_tick(uow, None, None, None, JobSettings())
    assert summary["job_history_deleted"] == {"jobs": 3, "monitor_runs": 2 * len(monitors)}
    left = {r["id"]: r["status"] for r in await pool.fetch("SELECT id, status::text FROM procrastinate_jobs")}
    assert left == {recent_ok: "succeeded", old_todo: "todo"}
    assert await pool.fetchval("SELECT count(*) FROM procrastinate_events WHERE job_id = ANY($1)",
                               [old_ok, old_failed, old_cancelled]) == 0
    runs = await pool.fetch("SELECT status, count(*) AS n FROM monitor_runs GROUP BY status")
    assert {r["status"]: r["n"] for r in runs} == {"no_data": len(monitors), "queued": len(monitors)}
    # a second pass deletes nothing; None keeps everything
    async with unit_from_pool(pool, share=False) as uow:
        again = await worker_tick(uow, None, None, None, JobSettings())
        kept = await worker_tick(uow, None, None, None, JobSettings(job_retention=None, monitor_run_retention=None))
    assert again["job_history_deleted"] == {"jobs": 0, "monitor_runs": 0}
    assert kept["job_history_deleted"] == {}
