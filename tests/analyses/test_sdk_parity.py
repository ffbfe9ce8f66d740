"""The async client has every method of the sync one, and both give what REST answers (a real server over
the test database): baselines, drift (univariate and multivariate), results, quality, degradation,
performance summary, trend, stored-series and posted-series anomalies."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import asyncpg
import httpx
import numpy as np
import polars as pl
import pytest

from engine.sdk import AsyncClient, Client
from engine.store import models_repo
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows
from tests.ingest.support import register_all
from tests.sdk.conftest import server_url

__all__ = ["server_url"]
WINDOW = {"start": CUR_START.isoformat(), "end": CUR_END.isoformat()}
SERIES = {"start": REF_START.isoformat(), "end": CUR_END.isoformat()}


def test_async_client_has_every_sync_method() -> None:
    public = {n for n, _ in inspect.getmembers(Client, inspect.isfunction) if not n.startswith("_")} - {"close"}
    missing = [n for n in sorted(public) if not inspect.iscoroutinefunction(getattr(AsyncClient, n, None))]
    assert not missing, f"AsyncClient lacks {missing}"


def _same(a: pl.DataFrame, b: pl.DataFrame, drop: tuple[str, ...] = ()) -> None:
    assert a.drop([c for c in drop if c in a.columns]).equals(b.drop([c for c in drop if c in b.columns])), (a, b)


@pytest.mark.asyncio
async def test_sync_and_async_analyses_round_trip_rest(pool: asyncpg.Pool, server_url: str) -> None:
    models = await register_all(pool)
    rng = np.random.default_rng(8)
    async with pool.acquire() as conn:
        m = models["churn"]
        [v1, *_] = await models_repo.list_versions(conn, m.id)
        await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 600, prefix="ref")
        await insert_rows(conn, m, v1.id, rng, CUR_START, CUR_END, 400, shifted=True, prefix="cur")
    rest = httpx.Client(base_url=server_url, timeout=60)

    def get(path: str, **params: Any) -> Any:
        r = rest.get(f"/api/v1/models/churn/{path}", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def sync_calls() -> dict[str, Any]:
        with Client(server_url) as dl:
            dl.create_baseline("churn", "ref", start=REF_START, end=REF_END)
            return {
                "baselines": dl.list_baselines("churn"),
                "drift": dl.drift("churn", CUR_START, CUR_END, store=False),
                "multivariate": dl.multivariate_drift("churn", CUR_START, CUR_END, method="pca", store=False),
                "quality": dl.quality("churn", CUR_START, CUR_END, store=False),
                "degradation": dl.degradation("churn", CUR_START, CUR_END, store=False, min_samples=10),
                "summary": dl.performance_summary("churn", days=7),
                "trend": dl.trend("churn", "count", REF_START, CUR_END, granularity="1h"),
                "anomalies": dl.anomalies("churn", "count", REF_START, CUR_END, granularity="15m"),
                "posted": dl.detect_anomalies([1, 2, 3, 2, 9], method="zscore", reference_size=3),
            }

    got = await asyncio.to_thread(sync_calls)
    async with AsyncClient(server_url) as adl:
        await adl.create_baseline("churn", "ref2", start=REF_START, end=REF_END, activate=False)
        await adl.activate_baseline("churn", "ref")
        agot = {
            "baselines": await adl.list_baselines("churn"),
            "drift": await adl.drift("churn", CUR_START, CUR_END, store=False),
            "multivariate": await adl.multivariate_drift("churn", CUR_START, CUR_END, method="pca", store=False),
            "quality": await adl.quality("churn", CUR_START, CUR_END, store=False),
            "degradation": await adl.degradation("churn", CUR_START, CUR_END, store=False, min_samples=10),
            "summary": await adl.performance_summary("churn", days=7),
            "trend": await adl.trend("churn", "count", REF_START, CUR_END, granularity="1h"),
            "anomalies": await adl.anomalies("churn", "count", REF_START, CUR_END, granularity="15m"),
            "posted": await adl.detect_anomalies([1, 2, 3, 2, 9], method="zscore", reference_size=3),
        }
        stored = await adl.multivariate_drift("churn", CUR_START, CUR_END, method="pca")
        results = await adl.analysis_results("churn", CUR_START, CUR_END, "multivariate_drift")
    assert got["baselines"]["name"].to_list() == ["ref"] and agot["baselines"]["name"].to_list() == ["ref", "ref2"]
    for key in ("drift", "degradation", "trend", "anomalies", "posted"):
        _same(got[key], agot[key])
    _same(got["quality"], agot["quality"], drop=("seconds_since_last_prediction",))
    assert got["multivariate"] == agot["multivariate"] == get("drift/multivariate", method="pca", **WINDOW)
    assert got["summary"]["performance_trend"] == agot["summary"]["performance_trend"]
    # against the REST answers themselves
    drift = get("drift", **WINDOW)
    assert got["drift"]["feature"].to_list() == [f["feature"] for f in drift["features"]]
    assert got["drift"]["statistic"].to_list() == [f["statistic"] for f in drift["features"]]
    quality = get("quality", **WINDOW)
    assert got["quality"]["missing_rate"].to_list() == [f["missing_rate"] for f in quality["features"]]
    trend = get("trend", metric="count", granularity="1h", **SERIES)
    assert got["trend"]["value"].to_list() == [p["value"] for p in trend["points"]]
    anomalies = get("anomalies", metric="count", granularity="15m", **SERIES)
    assert got["anomalies"]["score"].to_list() == [p["score"] for p in anomalies["points"]]
    posted = rest.post("/api/v1/anomalies", json={"values": [1, 2, 3, 2, 9], "method": "zscore", "reference_size": 3})
    assert got["posted"]["anomaly"].to_list() == [p["anomaly"] for p in posted.json()["points"]] == [False] * 4 + [True]
    assert stored["statistic"] == got["multivariate"]["statistic"]
    assert results["statistic"].to_list() == ["multivariate:pca"]
    rest.close()
