"""The jobs API under a real uvicorn server, through the SDK (sync and async): create, list, run, runs,
delete; concurrent runs of one job answer 409 "already running" instead of overlapping."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import asyncpg
import pytest

from engine.config import AnalyticsSettings
from engine.sdk import AsyncClient, Client
from engine.sdk.errors import DriftlineAPIError
from tests.analytics_jobs.support import write_pair
from tests.ingest.support import register_all
from tests.sdk.servers import api_server


async def test_sdk_against_a_real_server(db_url: str, pool: asyncpg.Pool, tmp_path: Path) -> None:
    models = await register_all(pool)
    root, out = tmp_path / "root", tmp_path / "out"
    pair = write_pair(root, models["churn"], seed=21, n=3000)
    cfg = AnalyticsSettings(input_root=str(root), output_path=str(out))
    with api_server(db_url, analytics=cfg, pool_max_size=6) as url:
        with Client(url) as dl:
            job = dl.create_analytics_job("nightly", "churn", "in/churn_metrics.parquet", "in/churn_predictions.parquet")
            assert job["frequency"] == "daily"
            assert dl.create_analytics_job("nightly", "churn", "in/churn_metrics.parquet",
                                           "in/churn_predictions.parquet") == job
            with pytest.raises(DriftlineAPIError) as refused:
                dl.create_analytics_job("other", "churn", "in/../../etc/passwd", "in/churn_predictions.parquet")
            assert refused.value.status == 422 and refused.value.errors[0].field == "metrics_path"
            assert [j["job_id"] for j in dl.list_analytics_jobs()] == ["nightly"]

            lock_id = await pool.fetchval("SELECT lock_id FROM analytics_jobs WHERE job_id = 'nightly'")
            async with pool.acquire() as holder:  # another host running it right now
                await holder.fetchval("SELECT pg_advisory_lock(hashtext('driftline.analytics_jobs'), $1)", lock_id)
                with pytest.raises(DriftlineAPIError) as busy:
                    await asyncio.to_thread(dl.run_analytics_job, "nightly")
                assert busy.value.status == 409 and "already running" in busy.value.detail
                await holder.fetchval("SELECT pg_advisory_unlock(hashtext('driftline.analytics_jobs'), $1)", lock_id)

            done = await asyncio.to_thread(dl.run_analytics_job, "nightly")
            assert done["run"]["status"] == "succeeded"
            assert done["result"]["rows_ingested"] == pair.predictions.height + pair.metrics.height
            assert {p.name for p in out.iterdir()} == set(done["run"]["outputs"])

        async with AsyncClient(url) as adl:
            assert (await adl.get_analytics_job("nightly"))["last_status"] == "succeeded"

            async def run() -> int:
                try:
                    return 201 if (await adl.run_analytics_job("nightly"))["run"]["status"] == "succeeded" else 500
                except DriftlineAPIError as exc:
                    assert "already running" in exc.detail
                    return exc.status

            outcomes = await asyncio.gather(run(), run(), run())
            assert 201 in outcomes and set(outcomes) <= {201, 409}
            runs = await adl.analytics_job_runs("nightly")
            assert len(runs) == 1 + outcomes.count(201)
            spans = sorted((r["started_at"], r["finished_at"]) for r in runs)
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # never two at once
            assert all(r["rows_ingested"] == 0 for r in runs[:-1])  # the reruns wrote nothing
            assert (await adl.delete_analytics_job("nightly"))["job_id"] == "nightly"
            assert await adl.list_analytics_jobs() == []
