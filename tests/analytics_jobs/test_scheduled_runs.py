"""Analytics batch jobs run on the job queue: two real `driftline worker` processes, one hourly job → the
scheduler tick claims its current hour once and one worker runs it (trigger 'scheduled', the hour as its
period, the three seed outputs written); the other worker does not run it again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from engine.services.analytics_jobs.jobs import AnalyticsJobService, NewAnalyticsJob
from engine.store.unit import UnitOfWork
from tests.analytics_jobs.support import settings, write_pair
from tests.ingest.support import register_all
from tests.monitors.workers import start_worker, stop_all, wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


@pytest.mark.timeout(240)
async def test_a_due_job_runs_once_on_the_workers(pool: asyncpg.Pool, uow: UnitOfWork, db_url: str,
                                                   tmp_path: Path) -> None:
    models = await register_all(pool)
    root, out = tmp_path / "root", tmp_path / "out"
    write_pair(root, models["churn"], seed=7, n=300)
    svc = AnalyticsJobService(uow, settings(db_url, root, out))
    await svc.create(NewAnalyticsJob("hourly-churn", "churn", "in/churn_metrics.parquet",
                                     "in/churn_predictions.parquet", "hourly"))  # type: ignore[arg-type]
    env = {"DRIFTLINE_ANALYTICS_INPUT_ROOT": str(root), "DRIFTLINE_ANALYTICS_OUTPUT_PATH": str(out)}
    procs = [start_worker(db_url, tmp_path / f"w{i}.log", **env) for i in range(2)]
    try:
        async def finished() -> bool:
            return bool(await pool.fetchval(
                "SELECT count(*) FROM analytics_job_runs WHERE job_id = 'hourly-churn' AND status <> 'running'"))
        await wait_for(finished, 180, "the scheduled run of the analytics job")
        # a few more ticks (every 2 s): the hour was handed out once, so nothing runs again
        before = await pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE '%analytics%'")

        await asyncio.sleep(8)
        runs = await pool.fetch("SELECT * FROM analytics_job_runs WHERE job_id = 'hourly-churn'")
        after = await pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE '%analytics%'")
    finally:
        stop_all(procs)
    logs = "".join((tmp_path / f"w{i}.log").read_text(errors="replace") for i in range(2))
    assert len(runs) == 1, logs[-4000:]
    [run] = runs
    assert run["status"] == "succeeded", (run["error"], run["traceback"])
    assert run["trigger"] == "scheduled"
    now = datetime.now(UTC)
    assert run["period"] == now.replace(minute=0, second=0, microsecond=0) or run["period"].hour in (
        (now.hour - 1) % 24, now.hour)
    assert before == after == 1
    batch = run["batch_id"]
    names = {p.name for p in out.iterdir()}
    assert {f"churn_metrics_{batch}.json", f"churn_predictions_{batch}.json", f"batch_summary_{batch}.json"} <= names
    summary = json.loads((out / f"batch_summary_{batch}.json").read_text())
    assert summary["batch_id"] == batch
