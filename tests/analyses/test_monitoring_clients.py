"""`driftline analyze quality|degradation|trend|anomalies` print tables; the SDK's methods return Polars
frames (a real server over the test database). Series hold only the buckets with data."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import numpy as np
import polars as pl
import pytest

from engine.cli.main import main
from engine.sdk import Client
from engine.store import models_repo
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows
from tests.ingest.support import register_all
from tests.sdk.conftest import server_url

__all__ = ["server_url"]


async def _data(pool: asyncpg.Pool) -> None:
    models = await register_all(pool)
    rng = np.random.default_rng(4)
    async with pool.acquire() as conn:
        for name in ("churn", "price"):
            m = models[name]
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 900, prefix="ref")
            await insert_rows(conn, m, v1.id, rng, CUR_START, CUR_END, 600, shifted=True, prefix="cur")


@pytest.mark.asyncio
async def test_cli_analyze_monitoring(pool: asyncpg.Pool, db_url: str, capfd: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    await _data(pool)
    monkeypatch.setenv("DRIFTLINE_DATABASE_URL", db_url)
    window = ["--start", CUR_START.isoformat(), "--end", CUR_END.isoformat()]
    series = ["--start", REF_START.isoformat(), "--end", CUR_END.isoformat()]

    async def run(*args: str) -> str:
        assert await asyncio.to_thread(main, list(args)) == 0
        return capfd.readouterr().out

    assert await asyncio.to_thread(main, ["baselines", "create", "churn", "ref", "--start", REF_START.isoformat(),
                                          "--end", REF_END.isoformat()]) == 0
    out = await run("analyze", "quality", "churn", *window)
    assert "MISSING" in out and "channel" in out and "partner" in out
    out = await run("analyze", "degradation", "churn", *window)
    assert "accuracy" in out and "SEVERITY" in out and "retrain" in out
    out = await run("analyze", "trend", "churn", "--metric", "count", "--granularity", "1m", *series)
    assert "mann_kendall" in out and "linear" in out
    out = await run("analyze", "anomalies", "churn", "--metric", "count", "--granularity", "1m", "--method", "iqr",
                    *series)
    assert "iqr on count" in out
    assert await asyncio.to_thread(main, ["analyze", "anomalies", "churn", "--metric", "count", "--method", "nope",
                                          *series]) == 2


@pytest.mark.asyncio
async def test_sdk_monitoring_frames(pool: asyncpg.Pool, server_url: str) -> None:
    await _data(pool)

    def calls() -> None:
        with Client(server_url) as dl:
            dl.create_baseline("price", "ref", start=REF_START, end=REF_END)
            q = dl.quality("price", CUR_START, CUR_END, rules=[{"check": "not_null", "column": "rooms"}])
            assert isinstance(q, pl.DataFrame) and {"feature", "missing_rate", "n_rejected"} <= set(q.columns)
            d = dl.degradation("price", CUR_START, CUR_END, min_samples=10)
            assert set(d["metric"]) >= {"mse", "mae"} and {"ci_low", "severity"} <= set(d.columns)
            s = dl.performance_summary("price", days=7)
            assert "performance_trend" in s and "degradation_summary" in s
            t = dl.trend("price", "mae", REF_START, CUR_END, granularity="1h")
            assert t.height == 4 and "slope_per_day_mann_kendall" in t.columns
            a = dl.anomalies("price", "count", REF_START, CUR_END + timedelta(hours=0), granularity="1m", method="mad")
            assert {"bucket", "score", "anomaly"} <= set(a.columns)

    await asyncio.to_thread(calls)
