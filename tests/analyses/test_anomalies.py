"""Anomalies and change points in metric series from the stored windows, against the same library calls on
the per-bucket values computed from the raw rows (exact to 1e-9); REST for every task, with and without
labels, model and custom metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from engine.algorithms.anomaly import detect
from engine.algorithms.anomaly.base import ANOMALY_DETECTORS
from engine.algorithms.anomaly.reference import score_on_reference
from engine.algorithms.changepoint import make_detector
from engine.services.analyses.anomalies import AnomalyService
from engine.store import models_repo
from engine.store.unit import UnitOfWork
from tests.analyses.support import insert_rows
from tests.conftest import refresh_windows
from tests.ingest.support import T0, register_all

pytestmark = pytest.mark.asyncio
START, END = T0, T0 + timedelta(hours=4)
SHIFT = T0 + timedelta(hours=3)


async def _setup(pool: asyncpg.Pool, labeled: bool = True) -> dict:
    models = await register_all(pool)
    rng = np.random.default_rng(8)
    async with pool.acquire() as conn:
        for m in models.values():
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            await insert_rows(conn, m, v1.id, rng, START, END, 1500, labeled=labeled)
        rows = []
        for minute in range(240):
            t0 = START + timedelta(minutes=minute)
            level = 10.0 + (6.0 if t0 >= SHIFT else 0.0) + (25.0 if minute == 200 else 0.0)
            for _ in range(5):
                rows.append((t0 + timedelta(seconds=float(rng.uniform(0, 60))), models["churn"].id, "latency",
                             level + float(rng.normal(0, 1)), None))
        await conn.copy_records_to_table("metrics", records=rows, columns=("time", "model_id", "name", "value", "tags"))
    return models


async def _minute_means(pool: asyncpg.Pool) -> tuple[list[Any], np.ndarray]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT date_trunc('minute', time) AS b, avg(value) AS v FROM metrics"
                                " WHERE name = 'latency' GROUP BY 1 ORDER BY 1")
    return [r["b"] for r in rows], np.array([r["v"] for r in rows], dtype=np.float64)


@pytest.mark.parametrize("refreshed", [False, True])
async def test_anomalies_from_windows_equal_raw_rows(pool: asyncpg.Pool, uow: UnitOfWork, refreshed: bool) -> None:
    await _setup(pool)
    if refreshed:
        await refresh_windows(pool)
    buckets, values = await _minute_means(pool)
    k = 120
    svc = AnomalyService(uow)
    for method in ("zscore", "iqr", "mad", "ewma", "seasonal"):
        report = await svc.anomalies("churn", "latency", START, END, method=method, granularity="1m", custom=True,
                                     persist=True, period=10 if method == "seasonal" else None)
        expected = score_on_reference(method, values[:k], values[k:], period=10 if method == "seasonal" else None)
        assert report.n_reference == k and report.n_scored == 120 and report.reference_end == buckets[k]
        got = np.array([np.nan if p.score is None else p.score for p in report.points[k:]])
        np.testing.assert_allclose(got, expected.scores, atol=1e-9, equal_nan=True)
        assert [p.anomaly for p in report.points[k:]] == expected.is_anomaly.tolist()
        assert buckets[200] in report.anomalies, method
    for method in ("rolling_zscore", "iqr", "mad"):
        report = await svc.anomalies("churn", "latency", START, END, method=method, granularity="1m", custom=True,
                                     fit="whole")
        expected = detect(method, values, ANOMALY_DETECTORS.get(method).params_type())
        got = np.array([np.nan if p.score is None else p.score for p in report.points])
        np.testing.assert_allclose(got, expected.scores, atol=1e-9, equal_nan=True)
    for method in ("adwin", "page_hinkley", "cusum"):
        report = await svc.anomalies("churn", "latency", START, END, method=method, custom=True,
                                     reference_end=START + timedelta(hours=2))
        assert report.granularity == "1m" and report.kind == "change"
        params: Any = None
        if method == "cusum":
            from engine.algorithms.changepoint.cusum import CUSUMParams

            params = CUSUMParams(reference_size=120)
        res = make_detector(method, params).run(values)
        assert report.anomalies == tuple(buckets[i] for i in res.detections if i >= 120)
        if method == "adwin":
            assert any(SHIFT <= t <= SHIFT + timedelta(minutes=30) for t in report.anomalies)
    # a model metric: throughput per minute, fitted on the first half (churn: within segment region=eu)
    report = await svc.anomalies("price", "count", START, END, method="mad", granularity="1m")
    seg = await svc.anomalies("churn", "count", START, END, method="mad", granularity="1m", filters={"region": "eu"})
    assert seg.filters == {"region": "eu"} and seg.n_scored == 120
    async with pool.acquire() as conn:
        counts = await conn.fetch("SELECT date_trunc('minute', time) AS b, count(*) AS n FROM predictions p"
                                  " JOIN models m ON m.id = p.model_id WHERE m.name = 'price' GROUP BY 1 ORDER BY 1")
    series = np.array([r["n"] for r in counts], dtype=np.float64)
    half = len(series) // 2
    expected = score_on_reference("mad", series[:half], series[half:])
    got = np.array([np.nan if p.score is None else p.score for p in report.points[half:]])
    np.testing.assert_allclose(got, expected.scores, atol=1e-9)


@pytest.mark.parametrize("labeled", [True, False])
async def test_anomalies_over_rest(pool: asyncpg.Pool, client: AsyncTestClient, labeled: bool) -> None:
    await _setup(pool, labeled)
    params = {"start": START.isoformat(), "end": END.isoformat()}
    for model, metric in (("churn", "accuracy"), ("iris", "accuracy"), ("price", "mae"), ("price", "count"),
                          ("churn", "latency_p95_ms")):
        for method in ("zscore", "seasonal", "adwin"):
            q = {**params, "metric": metric, "method": method, "granularity": "1h" if method != "adwin" else "1m"}
            r = await client.get(f"/api/v1/models/{model}/anomalies", params=q)
            assert r.status_code in (200, 422), r.text
            if r.status_code == 200:
                body = r.json()
                if metric not in ("count",) and (not labeled or metric == "latency_p95_ms"):
                    assert body["points"] == [] and body["details"]["status"] == "insufficient_data"
    r = await client.get("/api/v1/models/churn/anomalies",
                         params={**params, "metric": "latency", "custom": "true", "method": "iqr", "granularity": "1m"})
    assert r.status_code == 200 and r.json()["n_anomalies"] >= 1
    for bad in ({"method": "nope"}, {"fit": "whole", "method": "zscore"}, {"reference_fraction": 2},
                {"threshold": -1}):
        r = await client.get("/api/v1/models/churn/anomalies", params={**params, "metric": "count", **bad})
        assert r.status_code == 422, (bad, r.text)
