"""`track_performance` (seed 004) through the SDK, sync and async: a labelled batch logged with idempotency
keys, its metrics against scikit-learn, the degradation analysis against the active baseline with seed
004's thresholds, and the retraining flag; binary, multiclass and regression models, with and without a
baseline; the batch-performance endpoint's errors."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import numpy as np
import polars as pl
import pytest
from litestar.testing import AsyncTestClient
from sklearn import metrics as skm

from engine.sdk import AsyncClient, Client
from engine.services.baselines.service import BaselineService
from engine.store import models_repo
from engine.store.unit import UnitOfWork
from tests.analyses.support import REF_END, REF_START, insert_rows
from tests.analyses.test_estimate import insert_scored
from tests.ingest.support import register_all
from tests.sdk.conftest import server_url

pytestmark = pytest.mark.asyncio
__all__ = ["server_url"]
AT = REF_END + timedelta(hours=2)


async def _baselines(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    models = await register_all(pool)
    rng = np.random.default_rng(9)
    async with pool.acquire() as conn:
        for m in models.values():
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            if m.task == "regression":
                await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 1000, prefix="ref")
            else:
                await insert_scored(conn, m, v1.id, rng, REF_START, REF_END, 1000, prefix="ref")
    for name in ("churn", "iris", "price"):
        await BaselineService(uow).create_from_range(name, "ref", REF_START, REF_END)


def _call(url: str, model: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with Client(url) as dl:
        out: dict[str, Any] = dl.track_performance(model, *args, **kwargs)
        return out


async def test_binary_batch_degrades_and_triggers_retraining(pool: asyncpg.Pool, uow: UnitOfWork,
                                                              server_url: str) -> None:
    await _baselines(pool, uow)
    rng = np.random.default_rng(4)
    n = 400
    proba1 = rng.random(n)
    y_true = (rng.random(n) < 0.5).astype(int)  # labels unrelated to the scores: a broken model
    y_pred = (proba1 >= 0.3).astype(int)
    y_pred_proba = np.column_stack([1 - proba1, proba1])
    meta = {"model_version": "v1", "data_source": "production", "batch_id": "batch_001",
            "batch_timestamp": AT.isoformat()}
    features = pl.DataFrame({"tenure": rng.normal(3, 1, n), "plan": ["basic", "pro"] * (n // 2)})
    res = await asyncio.to_thread(_call, server_url, "churn", y_true, y_pred, y_pred_proba, meta, features=features)
    assert res["sample_count"] == n and res["n_labelled"] == n and res["batch_id"] == "batch_001"
    m = res["metrics"]
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-12)
    assert m["f1"] == pytest.approx(skm.f1_score(y_true, y_pred), abs=1e-12)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, proba1), abs=1e-9)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y_true, proba1), abs=1e-9)
    deg = res["degradation_analysis"]
    assert deg["degradation_detected"] and deg["baseline"] == "ref" and res["retraining_triggered"]
    by = {d["metric"]: d for d in deg["metrics"]}
    assert by["roc_auc"]["threshold"] == 0.03 and by["accuracy"]["threshold"] == 0.05
    assert by["roc_auc"]["severity"] == "critical"
    assert isinstance(res["degradation_frame"], pl.DataFrame) and res["degradation_frame"].height == len(by)
    # the same batch again (same id and time): replayed by the idempotency keys, not stored twice
    again = await asyncio.to_thread(_call, server_url, "churn", y_true, y_pred, y_pred_proba, meta, features=features)
    assert again["sample_count"] == n and again["metrics"] == m
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM predictions WHERE prediction_id LIKE 'batch_001-%'") == n
        stored = await conn.fetch("SELECT statistic, status FROM analysis_results WHERE analysis = 'batch_performance'")
    assert {r["statistic"] for r in stored} == {"batch", "retrain"}


async def test_multiclass_and_regression_batches_async(pool: asyncpg.Pool, uow: UnitOfWork, server_url: str) -> None:
    await _baselines(pool, uow)
    rng = np.random.default_rng(6)
    labels = ["setosa", "versicolor", "virginica"]
    P = rng.dirichlet(np.ones(3), 300)
    y_true = [labels[int(rng.choice(3, p=p))] for p in P]  # calibrated: as good as the reference
    async with AsyncClient(server_url) as dl:
        res = await dl.track_performance("iris", y_true, None, P, {"batch_timestamp": AT.isoformat()})
        y_pred = [labels[i] for i in P.argmax(axis=1)]
        assert res["metrics"]["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-12)
        assert res["metrics"]["f1_macro"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"), abs=1e-12)
        assert res["sample_count"] == 300 and res["batch_id"].startswith("tp-")
        assert {d["metric"] for d in res["degradation_analysis"]["metrics"]} >= {"accuracy", "f1_macro"}
        pred = rng.normal(100, 10, 200)
        truth = pred + rng.normal(0, 25, 200)  # 5x the reference's noise
        reg = await dl.track_performance("price", truth, pred, metadata={"batch_timestamp": AT.isoformat()},
                                         version="v2")
    assert reg["metrics"]["mae"] == pytest.approx(skm.mean_absolute_error(truth, pred), rel=1e-9)
    assert reg["metrics"]["r2"] == pytest.approx(skm.r2_score(truth, pred), rel=1e-9)
    by = {d["metric"]: d for d in reg["degradation_analysis"]["metrics"]}
    assert by["mae"]["degraded"] and by["mse"]["severity"] == "critical" and reg["retraining_triggered"]
    assert reg["version"] == "v2"


async def test_without_baseline_and_bad_requests(pool: asyncpg.Pool, client: AsyncTestClient, server_url: str) -> None:
    await register_all(pool)
    res = await asyncio.to_thread(_call, server_url, "churn", [0, 1, 1, 0], [0, 1, 0, 0], [0.1, 0.8, 0.2, 0.1],
                                  {"batch_timestamp": AT.isoformat()}, features=[{"tenure": 1.0}] * 4)
    assert res["metrics"]["accuracy"] == 0.75 and res["degradation_analysis"]["baseline"] is None
    assert not res["degradation_analysis"]["degradation_detected"] and not res["retraining_triggered"]
    with pytest.raises(ValueError, match="class label"):
        await asyncio.to_thread(_call, server_url, "churn", ["x"], [0], None, None)
    base = "/api/v1/models/churn/batch-performance"
    ok = {"prediction_ids": ["nope"], "start": AT.isoformat(), "end": AT.isoformat(), "batch_id": "b"}
    r = await client.post(base, json=ok)
    assert r.status_code == 200 and r.json()["sample_count"] == 0
    assert (await client.post(base, json={**ok, "prediction_ids": []})).status_code == 422
    assert (await client.post(base, json={**ok, "thresholds": {"accuracy": -1}})).status_code == 422
    assert (await client.post("/api/v1/models/nope/batch-performance", json=ok)).status_code == 404
