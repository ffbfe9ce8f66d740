"""`due_analytics_jobs` hands each (job, period) out once — UTC hours, days, ISO weeks — also to schedulers
calling at the same moment; two runs of one job never overlap (the per-job advisory lock), on separate
connections as on separate hosts; a run left 'running' by a dead process is marked failed by the next."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from engine.errors import ConflictError
from engine.services.analytics_jobs.jobs import (
    AnalyticsJobService,
    JobRunningError,
    NewAnalyticsJob,
    due_analytics_jobs,
)
from engine.store.unit import UnitOfWork, unit_from_pool
from tests.analytics_jobs.support import settings, write_pair
from tests.ingest.support import register_all

WED = datetime(2026, 3, 4, 10, 20, tzinfo=UTC)  # a Wednesday


async def _jobs(pool: asyncpg.Pool, uow: UnitOfWork, db_url: str, tmp_path: Path) -> AnalyticsJobService:
    models = await register_all(pool)
    write_pair(tmp_path / "root", models["churn"], seed=4, n=200)
    svc = AnalyticsJobService(uow, settings(db_url, tmp_path / "root", tmp_path / "out"))
    for job_id, freq in (("h", "hourly"), ("d", "daily"), ("w", "weekly")):
        await svc.create(NewAnalyticsJob(job_id, "churn", "in/churn_metrics.parquet", "in/churn_predictions.parquet",
                                         freq))  # type: ignore[arg-type]
    return svc


async def test_each_period_is_handed_out_once(pool: asyncpg.Pool, uow: UnitOfWork, db_url: str, tmp_path: Path) -> None:
    await _jobs(pool, uow, db_url, tmp_path)

    async def due(now: datetime) -> set[tuple[str, datetime]]:
        return {(d.job_id, d.period) for d in await due_analytics_jobs(uow, now)}

    hour, day = datetime(2026, 3, 4, 10, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    assert await due(WED) == {("h", hour), ("d", day), ("w", monday)}
    assert await due(WED) == set()
    assert await due(WED + timedelta(minutes=39)) == set()  # 10:59, same hour
    assert await due(WED + timedelta(minutes=40)) == {("h", hour + timedelta(hours=1))}
    assert await due(datetime(2026, 3, 5, 0, 0, tzinfo=UTC)) == {("h", datetime(2026, 3, 5, tzinfo=UTC)),
                                                                ("d", datetime(2026, 3, 5, tzinfo=UTC))}
    sunday_late = datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC)
    assert {j for j, _ in await due(sunday_late)} == {"h", "d"}
    next_monday = datetime(2026, 3, 9, 0, 0, 1, tzinfo=UTC)
    assert await due(next_monday) == {("h", next_monday.replace(second=0)), ("d", next_monday.replace(second=0)),
                                      ("w", next_monday.replace(second=0))}
    # an earlier time than a claimed period hands out nothing again (a clock stepping back)
    assert await due(WED) == set()
    # a disabled job is never due
    await uow.conn.execute("UPDATE analytics_jobs SET enabled = false WHERE job_id = 'h'")
    assert await due(next_monday + timedelta(hours=1)) == set()


async def test_concurrent_schedulers_split_the_periods(
    pool: asyncpg.Pool, uow: UnitOfWork, db_url: str, tmp_path: Path,
) -> None:
    await _jobs(pool, uow, db_url, tmp_path)

    async def tick() -> list[str]:
        async with unit_from_pool(pool) as u:
            return [d.job_id for d in await due_analytics_jobs(u, WED)]

    results = await asyncio.gather(*(tick() for _ in range(6)))
    assert sorted(j for r in results for j in r) == ["d", "h", "w"]


async def test_a_second_run_while_one_holds_the_job_is_refused(
    pool: asyncpg.Pool, uow: UnitOfWork, db_url: str, tmp_path: Path,
) -> None:
    svc = await _jobs(pool, uow, db_url, tmp_path)
    cfg = svc.settings
    lock_id = await uow.conn.fetchval("SELECT lock_id FROM analytics_jobs WHERE job_id = 'd'")
    holder = await pool.acquire()
    try:  # another process in the middle of a run: it holds the lock and its run row says 'running'
        assert await holder.fetchval("SELECT pg_try_advisory_lock(hashtext('driftline.analytics_jobs'), $1)", lock_id)
        await holder.execute("INSERT INTO analytics_job_runs (job_id, trigger, status) VALUES ('d', 'manual', 'running')")
        with pytest.raises(JobRunningError, match="already running \\(run 1, started"):
            await svc.run("d")
        assert isinstance(JobRunningError("x"), ConflictError)
        assert len((await svc.runs("d")).runs) == 1
        # other jobs are not held
        assert (await svc.run("w")).run.status == "succeeded"
    finally:
        await pool.release(holder)  # the connection goes back: the lock is released, the 'running' row stays

    # that process is gone: the next run takes the lock and marks its run failed (interrupted)
    done = await svc.run("d", trigger="scheduled", period=datetime(2026, 3, 4, tzinfo=UTC))
    assert done.run.status == "succeeded" and done.run.trigger == "scheduled"
    statuses = {r.id: (r.status, r.error) for r in (await svc.runs("d")).runs}
    assert statuses[1][0] == "failed" and "interrupted" in (statuses[1][1] or "")

    # truly concurrent runs on two connections: never two at once, every run accounted for
    async def run_on_own_connection() -> str:
        async with unit_from_pool(pool) as u:
            try:
                return (await AnalyticsJobService(u, cfg).run("d")).run.status
            except JobRunningError:
                return "refused"

    outcomes = await asyncio.gather(*(run_on_own_connection() for _ in range(3)))
    assert "succeeded" in outcomes and set(outcomes) <= {"succeeded", "refused"}
    runs = sorted((await svc.runs("d")).runs, key=lambda r: r.started_at)
    assert len(runs) == 2 + outcomes.count("succeeded")
    for a, b in itertools.pairwise(runs):
        assert a.finished_at is not None and a.finished_at <= b.started_at
