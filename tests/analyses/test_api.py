"""Baselines and drift over REST for binary, multiclass and regression models (labelled reference, unlabelled
current window), JSON and Parquet uploads, activation, deletion, stored results; and the CLI."""

from __future__ import annotations

import asyncio
import io

import asyncpg
import numpy as np
import polars as pl
import pytest
from litestar.testing import AsyncTestClient

from engine.cli.main import main
from engine.store import models_repo
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows
from tests.ingest.support import register_all

pytestmark = pytest.mark.asyncio


async def _data(pool: asyncpg.Pool) -> dict:
    models = await register_all(pool)
    rng = np.random.default_rng(3)
    async with pool.acquire() as conn:
        for m in models.values():
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 1500, prefix="ref")
            await insert_rows(conn, m, v1.id, rng, CUR_START, CUR_END, 800, shifted=True, labeled=False, prefix="cur")
    return models


@pytest.mark.parametrize("model", ["churn", "iris", "price"])
async def test_baselines_and_drift_over_rest(pool: asyncpg.Pool, client: AsyncTestClient, model: str) -> None:
    await _data(pool)
    base = f"/api/v1/models/{model}"
    r = await client.post(f"{base}/baselines/", json={"name": "ref", "start": REF_START.isoformat(),
                                                     "end": REF_END.isoformat(), "version": "v1"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["info"]["active"] and body["performance"]["n"] == 1500 and body["performance"]["metrics"]
    params = {"start": CUR_START.isoformat(), "end": CUR_END.isoformat()}
    r = await client.get(f"{base}/drift", params=params)
    assert r.status_code == 200, r.text
    report = r.json()
    assert {f["feature"] for f in report["features"]} == {f["feature"] for f in body["features"]}
    assert report["fdr"] == "benjamini_hochberg"
    r = await client.post(f"{base}/drift", params={**params, "methods": "psi,psi_categorical", "rule": "classic"},
                          headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    r = await client.get(f"{base}/results", params={**params, "analysis": "drift"})
    assert r.status_code == 200 and r.json()["results"]
    # an upload of the current rows becomes a second (inactive) baseline; activating it swaps
    rows = [{"age": 40.0 + i % 7, "plan": "pro", "channel": "web", "x0": 0.1 * i, "site": "s1", "rooms": 3.0,
             "city": "a"} for i in range(200)]
    features = {f["feature"] for f in body["features"]}
    payload = [{k: v for k, v in row.items() if k in features} for row in rows]
    r = await client.post(f"{base}/baselines/upload", params={"baseline": "uploaded", "activate": "false"},
                          json=payload)
    assert r.status_code == 201, r.text
    assert not r.json()["info"]["active"]
    r = await client.post(f"{base}/baselines/uploaded/activate", headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["info"]["active"]
    r = await client.get(f"{base}/baselines/")
    assert [(b["name"], b["active"]) for b in r.json()] == [("ref", False), ("uploaded", True)]
    assert (await client.delete(f"{base}/baselines/ref")).status_code == 200
    assert (await client.get(f"{base}/baselines/ref")).status_code == 404
    assert (await client.get(f"{base}/drift", params={**params, "rule": "nope"})).status_code == 422


async def test_parquet_upload_and_unknown_column(pool: asyncpg.Pool, client: AsyncTestClient) -> None:
    await register_all(pool)
    rng = np.random.default_rng(1)
    frame = pl.DataFrame({"age": rng.normal(40, 10, 500), "plan": ["basic", "pro"] * 250,
                          "score": rng.random(500), "label": ["stay", "churn"] * 250})
    buf = io.BytesIO()
    frame.write_parquet(buf)
    r = await client.post("/api/v1/models/churn/baselines/upload", params={"baseline": "pq"}, content=buf.getvalue(),
                          headers={"content-type": "application/vnd.apache.parquet"})
    assert r.status_code == 201, r.text
    assert r.json()["performance"]["n"] == 500
    r = await client.post("/api/v1/models/churn/baselines/upload", params={"baseline": "bad"},
                          json=[{"nope": 1.0}])
    assert r.status_code == 422


async def test_cli_baselines_and_analyze(pool: asyncpg.Pool, db_url: str, capfd: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    await _data(pool)
    monkeypatch.setenv("DRIFTLINE_DATABASE_URL", db_url)
    assert await asyncio.to_thread(main, ["baselines", "create", "churn", "ref", "--start", REF_START.isoformat(),
                 "--end", REF_END.isoformat()]) == 0
    assert await asyncio.to_thread(main, ["baselines", "list", "churn"]) == 0
    assert await asyncio.to_thread(main, ["analyze", "drift", "churn", "--start", CUR_START.isoformat(), "--end", CUR_END.isoformat()]) == 0
    out = capfd.readouterr().out
    assert "FEATURE" in out and "age" in out and "DRIFT" in out
    assert await asyncio.to_thread(main, ["analyze", "results", "churn", "--start", CUR_START.isoformat(), "--end", CUR_END.isoformat()]) == 0
    assert "share_drifted" in capfd.readouterr().out


async def test_drift_refuses_an_overflowing_sliding_window(pool: asyncpg.Pool, client: AsyncTestClient) -> None:
    await register_all(pool)
    params = {"start": CUR_START.isoformat(), "end": CUR_END.isoformat(), "sliding_hours": "1e300"}
    r = await client.get("/api/v1/models/churn/drift", params=params)
    assert r.status_code == 422 and "sliding_hours" in r.text
