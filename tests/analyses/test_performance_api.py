"""Performance analyses over REST (binary, multiclass, regression), the CLI and the SDK (sync and async,
frames): label-free estimates."""

from __future__ import annotations

import asyncio

import asyncpg
import numpy as np
import polars as pl
import pytest
from litestar.testing import AsyncTestClient

from engine.cli.main import main
from engine.sdk import AsyncClient, Client
from engine.store import models_repo
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows
from tests.analyses.test_estimate import insert_scored
from tests.ingest.support import register_all
from tests.sdk.conftest import server_url

pytestmark = pytest.mark.asyncio
__all__ = ["server_url"]


async def _data(pool: asyncpg.Pool, labeled: bool = False) -> dict:
    models = await register_all(pool)
    rng = np.random.default_rng(5)
    async with pool.acquire() as conn:
        for m in models.values():
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            if m.task == "regression":
                await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 600, prefix="ref")
                await insert_rows(conn, m, v1.id, rng, CUR_START, CUR_END, 400, labeled=labeled, prefix="cur")
            else:
                await insert_scored(conn, m, v1.id, rng, REF_START, REF_END, 1500, prefix="ref")
                await insert_scored(conn, m, v1.id, rng, CUR_START, CUR_END, 800, shift=1.0, labeled=labeled, prefix="cur")
    return models


@pytest.mark.parametrize("model", ["churn", "iris", "price"])
@pytest.mark.parametrize("labeled", [False, True])
async def test_estimated_performance_over_rest(pool: asyncpg.Pool, client: AsyncTestClient, model: str,
                                               labeled: bool) -> None:
    await _data(pool, labeled)
    base = f"/api/v1/models/{model}"
    r = await client.post(f"{base}/baselines/", json={"name": "ref", "start": REF_START.isoformat(),
                                                     "end": REF_END.isoformat()})
    assert r.status_code == 201, r.text
    params = {"start": CUR_START.isoformat(), "end": CUR_END.isoformat()}
    r = await client.get(f"{base}/estimated-performance", params=params)
    if model == "price":
        assert r.status_code == 422 and "regression" in r.text
        return
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["n"] == 800 and body["n_labelled"] == (800 if labeled else 0)
    names = {m["metric"] for m in body["metrics"]}
    assert names == ({"accuracy", "precision", "recall", "f1", "roc_auc"} if model == "churn"
                     else {"accuracy", "precision_macro", "recall_macro", "f1_macro"})
    for m in body["metrics"]:
        assert m["lower"] <= m["estimated"] <= m["upper"] and m["reference"] is not None
        assert (m["realised"] is not None) == labeled
    r = await client.post(f"{base}/estimated-performance", params={**params, "filter": "region=eu"}, headers={"content-type": "application/json"})
    assert r.status_code == (200 if model == "churn" else 422), r.text  # iris declares no region
    r = await client.post(f"{base}/estimated-performance", params=params, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    r = await client.get(f"{base}/results", params={**params, "analysis": "estimated_performance"})
    assert r.status_code == 200 and {x["statistic"] for x in r.json()["results"]} >= {"estimated"}
    bad = await client.get(f"{base}/estimated-performance", params={**params, "confidence": "2"})
    assert bad.status_code in (400, 422)
    assert (await client.get(f"{base}/estimated-performance", params={**params, "seed": "-1"})).status_code == 422
    assert (await client.get(f"{base}/estimated-performance", params={**params, "version": "nope"})).status_code == 404


async def test_cli_estimate(pool: asyncpg.Pool, db_url: str, capfd: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    await _data(pool)
    monkeypatch.setenv("DRIFTLINE_DATABASE_URL", db_url)
    assert await asyncio.to_thread(main, ["baselines", "create", "churn", "ref", "--start", REF_START.isoformat(),
                                          "--end", REF_END.isoformat()]) == 0
    assert await asyncio.to_thread(main, ["analyze", "estimate", "churn", "--start", CUR_START.isoformat(),
                                          "--end", CUR_END.isoformat(), "--filter", "region=eu"]) == 0
    out = capfd.readouterr().out
    assert "ESTIMATED" in out and "roc_auc" in out and "score >= 0.3" in out


async def test_sdk_estimated_performance_frames(pool: asyncpg.Pool, server_url: str) -> None:
    await _data(pool, labeled=True)

    def sync() -> pl.DataFrame:
        with Client(server_url) as dl:
            dl.create_baseline("churn", "ref", start=REF_START, end=REF_END)
            frame: pl.DataFrame = dl.estimated_performance("churn", CUR_START, CUR_END, filter={"region": "eu"})
            return frame

    frame = await asyncio.to_thread(sync)
    assert frame.height == 5 and {"metric", "estimated", "realised", "lower", "upper", "status"} <= set(frame.columns)
    async with AsyncClient(server_url) as dl:
        again = await dl.estimated_performance("churn", CUR_START, CUR_END, store=False)
    assert again["estimated"].to_list() == frame["estimated"].to_list()


async def _two_groups(pool: asyncpg.Pool) -> None:
    from tests.analyses.test_compare import _setup as compare_setup

    await compare_setup(pool)


@pytest.mark.parametrize("model", ["churn", "iris", "price"])
async def test_compare_over_rest(pool: asyncpg.Pool, client: AsyncTestClient, model: str) -> None:
    await _two_groups(pool)
    base = f"/api/v1/models/{model}"
    params = {"start": CUR_START.isoformat(), "end": CUR_END.isoformat()}
    r = await client.get(f"{base}/compare", params={**params, "versions": "v1,v2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["by"] == "version" and body["n_a"] == body["n_b"] == 1500
    names = {m["metric"] for m in body["metrics"]}
    assert "accuracy" in names if model != "price" else {"mae", "mean_error", "mse", "rmse", "latency_mean_ms"} == names
    for m in body["metrics"]:
        if m["p_value"] is not None:
            assert m["lower"] <= m["difference"] <= m["upper"] and 0 <= m["p_value"] <= 1
    seg = await client.post(f"{base}/compare", params={**params, "segment": "region", "values": "eu,us"}, headers={"content-type": "application/json"})
    assert seg.status_code == (200 if model == "churn" else 422), seg.text
    if model == "churn":
        assert [m["difference"] for m in seg.json()["metrics"]] == [m["difference"] for m in body["metrics"]]
    assert (await client.get(f"{base}/compare", params=params)).status_code == 422
    assert (await client.get(f"{base}/compare", params={**params, "versions": "v1,v2", "seed": "-3"})).status_code == 422
    assert (await client.get(f"{base}/compare", params={**params, "versions": "v1"})).status_code == 422
    assert (await client.get(f"{base}/compare", params={**params, "versions": "v1,v7"})).status_code == 404


async def test_cli_and_sdk_compare(pool: asyncpg.Pool, db_url: str, server_url: str, capfd: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await _two_groups(pool)
    monkeypatch.setenv("DRIFTLINE_DATABASE_URL", db_url)
    assert await asyncio.to_thread(main, ["analyze", "compare", "churn", "--start", CUR_START.isoformat(),
                                          "--end", CUR_END.isoformat(), "--segment", "region", "--values", "eu,us"]) == 0
    out = capfd.readouterr().out
    assert "two_proportion_z" in out and "delong_z_binned" in out and "SIGNIFICANT" in out

    def sync() -> pl.DataFrame:
        with Client(server_url) as dl:
            frame: pl.DataFrame = dl.compare("price", CUR_START, CUR_END, versions=("v1", "v2"))
            return frame

    frame = await asyncio.to_thread(sync)
    assert frame["metric"].to_list() == ["mae", "mean_error", "mse", "rmse", "latency_mean_ms"]
    assert {"value_a", "value_b", "difference", "lower", "upper", "p_value", "test"} <= set(frame.columns)
    async with AsyncClient(server_url) as dl:
        again = await dl.compare("churn", CUR_START, CUR_END, segment="region", values=("eu", "us"))
    assert again.height == 7 and again["a"].unique().to_list() == ["eu"]
