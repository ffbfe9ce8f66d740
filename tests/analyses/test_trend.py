"""Trend of a model metric and of a custom metric from the stored windows, against the same library calls on
the per-bucket values computed from the raw rows (exact to 1e-9); direction by metric; REST for every task,
with and without labels."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from sklearn import metrics as skm

from engine.algorithms.trend import assess_trend
from engine.services.analyses.trend import TrendService
from engine.store import models_repo
from engine.store.unit import UnitOfWork
from tests.analyses.support import insert_rows
from tests.conftest import refresh_windows
from tests.ingest.support import T0, register_all

pytestmark = pytest.mark.asyncio
START, END = T0, T0 + timedelta(hours=24)


async def _setup(pool: asyncpg.Pool, labeled: bool = True) -> dict:
    models = await register_all(pool)
    rng = np.random.default_rng(21)
    async with pool.acquire() as conn:
        for m in models.values():
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            for h in range(24):
                lo = START + timedelta(hours=h)
                await insert_rows(conn, m, v1.id, rng, lo, lo + timedelta(hours=1), 60, labeled=labeled, prefix=f"h{h}")
        t = [START + timedelta(minutes=float(x)) for x in rng.uniform(0, 24 * 60, 2000)]
        v = [0.5 * (x - START).total_seconds() / 3600 + float(rng.normal(0, 2)) for x in t]
        await conn.copy_records_to_table("metrics", records=[(a, models["churn"].id, "cost", b, None)
                                                             for a, b in zip(t, v, strict=True)],
                                          columns=("time", "model_id", "name", "value", "tags"))
    return models


def _hourly(rows: list[Any], value: Any) -> tuple[list[float], list[float]]:
    times, values = [], []
    for h in range(24):
        lo = START + timedelta(hours=h)
        part = [r for r in rows if lo <= r["time"] < lo + timedelta(hours=1)]
        x = value(part)
        if x is not None:
            times.append(h / 24)
            values.append(x)
    return times, values


def _accuracy(part: list[Any]) -> float | None:
    lab = [r for r in part if r["label_class"] is not None]
    return skm.accuracy_score([r["label_class"] for r in lab], [r["predicted_class"] for r in lab]) if lab else None


def _mae(part: list[Any]) -> float | None:
    lab = [r for r in part if r["label_value"] is not None]
    return skm.mean_absolute_error([r["label_value"] for r in lab], [r["predicted_value"] for r in lab]) if lab else None


@pytest.mark.parametrize("refreshed", [False, True])
async def test_trend_from_windows_equals_raw_rows(pool: asyncpg.Pool, uow: UnitOfWork, refreshed: bool) -> None:
    models = await _setup(pool)
    if refreshed:
        await refresh_windows(pool)
    for name, metric, fn, better in (("churn", "accuracy", _accuracy, True), ("iris", "accuracy", _accuracy, True),
                                     ("price", "mae", _mae, False)):
        m = models[name]
        report = await TrendService(uow).trend(name, metric, START, END, granularity="1h", persist=True)
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT time, predicted_class, label_class, predicted_value, label_value"
                                    " FROM predictions WHERE model_id = $1", m.id)
        times, values = _hourly(rows, fn)
        assert report.higher_is_better is better and len(report.points) == 24
        assert [p.value for p in report.points] == pytest.approx(values, abs=1e-9)
        for t in report.tests:
            expected = assess_trend(values, higher_is_better=better, times=times, method=t.method, min_samples=10)
            assert t.n == expected.n == 24
            assert t.slope_per_day == pytest.approx(expected.slope, abs=1e-9)
            assert t.p_value == pytest.approx(expected.p_value, abs=1e-9)
            assert (t.ci_low, t.ci_high) == pytest.approx((expected.ci_low, expected.ci_high), abs=1e-9)
            assert t.direction == expected.direction
    report = await TrendService(uow).trend("churn", "cost", START, END, granularity="1h", custom=True)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT time, value FROM metrics WHERE name = 'cost'")
    times, values = _hourly(rows, lambda part: float(np.mean([r["value"] for r in part])) if part else None)
    mk = next(t for t in report.tests if t.method == "mann_kendall")
    expected = assess_trend(values, higher_is_better=True, times=times, min_samples=10)
    assert mk.slope_per_day == pytest.approx(expected.slope, abs=1e-9) and mk.direction == "increasing"
    lower = await TrendService(uow).trend("churn", "cost", START, END, granularity="1h", custom=True,
                                          higher_is_better_override=False)
    assert lower.direction == "degrading"
    # latency (lower is better), per segment: every row is region=eu, so the filtered series is the series
    async with pool.acquire() as conn:
        await conn.execute("UPDATE predictions SET latency_ms = 5 + extract(epoch FROM time - $1) / 3600"
                           " + (abs(hashtext(prediction_id)) % 100) / 50.0", START)
        rows = await conn.fetch("SELECT time, latency_ms FROM predictions WHERE model_id = $1", models["churn"].id)
    report = await TrendService(uow).trend("churn", "latency_mean_ms", START, END, granularity="1h",
                                           filters={"region": "eu"})
    times, values = _hourly(rows, lambda part: float(np.mean([r["latency_ms"] for r in part])) if part else None)
    assert report.higher_is_better is False and report.filters == {"region": "eu"}
    assert [p.value for p in report.points] == pytest.approx(values, abs=1e-9)
    lin = next(t for t in report.tests if t.method == "linear")
    expected = assess_trend(values, higher_is_better=False, times=times, method="linear", min_samples=10)
    assert lin.slope_per_day == pytest.approx(expected.slope, abs=1e-9) and lin.direction == "degrading"
    few = await TrendService(uow).trend("churn", "accuracy", START, START + timedelta(hours=5), granularity="1h")
    assert few.direction == "insufficient_data" and all(t.n == 5 for t in few.tests)


@pytest.mark.parametrize("labeled", [True, False])
async def test_trend_over_rest(pool: asyncpg.Pool, client: AsyncTestClient, labeled: bool) -> None:
    await _setup(pool, labeled)
    params = {"start": START.isoformat(), "end": END.isoformat(), "granularity": "1h"}
    for model, metric in (("churn", "roc_auc"), ("iris", "f1_macro"), ("price", "rmse"), ("price", "count"),
                          ("churn", "latency_p95_ms")):
        r = await client.get(f"/api/v1/models/{model}/trend", params={**params, "metric": metric})
        assert r.status_code == 200, r.text
        body = r.json()
        assert {t["method"] for t in body["tests"]} == {"linear", "mann_kendall"}
        if not labeled and metric not in ("count", "latency_p95_ms"):
            assert body["direction"] == "insufficient_data"
    r = await client.post("/api/v1/models/churn/trend", params={**params, "metric": "cost", "custom": "true"},
                          headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["source"] == "custom_metric"
    r = await client.get("/api/v1/models/churn/trend", params={**params, "metric": "count", "filter": "region=eu"})
    assert r.status_code == 200 and r.json()["filters"] == {"region": "eu"}
    for bad in ({"metric": "count", "filter": "nope=1"}, {"metric": "cost", "custom": "true", "filter": "region=eu"}):
        assert (await client.get("/api/v1/models/churn/trend", params={**params, **bad})).status_code == 422
    assert (await client.get("/api/v1/models/churn/trend", params={**params, "metric": "mse"})).status_code == 422
    assert (await client.get("/api/v1/models/churn/trend",
                             params={**params, "metric": "accuracy", "alpha": 2})).status_code == 422
