"""Reads of [start, end) whose bounds fall inside a minute are exact: the edge minutes count only their raw rows
inside the range. Derived metrics (every task, grouped and filtered, at 1m / 5m / 1h, before and after the refresh,
a range inside one minute) equal scikit-learn / numpy on the raw rows of exactly that range; custom metric
and feature windows too; the series echo the range asked."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest

from engine.services.baselines.service import BaselineService
from engine.services.windows import MetricSeries, WindowsService
from engine.store.unit import UnitOfWork
from engine.windows.spec import GRANULARITIES
from tests.conftest import refresh_windows
from tests.windows.oracle import expected_metrics
from tests.windows.streams import T0, Model, copy_predictions, create_model, prediction_rows, raw_predictions

pytestmark = pytest.mark.asyncio
BOUNDED = {"roc_auc", "average_precision", "ece", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"}
# (start, end, granularities read); every range is also read at 1h by region and at 5m filtered to region=eu
RANGES = [
    (T0 + timedelta(minutes=17, seconds=23, microseconds=500_000), T0 + timedelta(hours=1, minutes=41, seconds=7.25),
     ("5m", "1h")),
    (T0 + timedelta(minutes=5, seconds=10), T0 + timedelta(minutes=5, seconds=40), ("1m", "1h")),  # one minute
    (T0 + timedelta(seconds=0.000_001), T0 + timedelta(hours=2), ("1h",)),  # a microsecond off a bucket edge
]


def region(r: asyncpg.Record) -> Any:
    return json.loads(r["segments"]).get("region") if r["segments"] else None


def _expected_series(
    model: Model, raw: list[asyncpg.Record], start: datetime, end: datetime, gran: str, key: Any
) -> dict[tuple[datetime, Any], dict[str, Any]]:
    g = GRANULARITIES[gran]
    groups: dict[tuple[datetime, Any], list[asyncpg.Record]] = defaultdict(list)
    for r in raw:
        if start <= r["time"] < end:
            groups[(g.floor(r["time"]), key(r))].append(r)
    out = {}
    for (bucket, k), rows in groups.items():
        seconds = (min(bucket + g.width, end) - max(bucket, start)).total_seconds()
        out[(bucket, k)] = expected_metrics(model, rows, seconds)
    return out


def _check(series: MetricSeries, expected: dict[tuple[datetime, Any], dict[str, Any]]) -> int:
    points = {(p.bucket, p.group): p for p in series.points}
    assert set(points) == set(expected), set(points) ^ set(expected)
    checked = 0
    for gk, want in expected.items():
        p = points[gk]
        for name, w in want.items():
            if w is None or (isinstance(w, float) and math.isnan(w)):
                continue
            got = p.values.get(name)
            assert got is not None, (name, gk)
            if name in BOUNDED:
                assert abs(got - w) <= p.error_bounds.get(name, 0.0) + 1e-9 * max(1.0, abs(w)), (name, gk)
            else:
                assert got == pytest.approx(w, rel=1e-9, abs=1e-9), (name, gk, got, w)
            checked += 1
    return checked


async def test_sub_minute_ranges_are_exact(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(5)
    async with pool.acquire() as conn:
        models = [
            await create_model(conn, "bin", "binary", ["neg", "pos"], threshold=0.45, dims=("region",)),
            await create_model(conn, "multi", "multiclass", ["a", "b", "c"], dims=("region",)),
            await create_model(conn, "reg", "regression", dims=("region",)),
        ]
        for m in models:
            # dense enough that the edge minutes hold rows on both sides of the bounds
            await copy_predictions(conn, prediction_rows(rng, m, 1200, minutes=120, labeled=0.6))
    svc = WindowsService(uow)
    for phase in ("pending", "refreshed"):
        if phase == "refreshed":
            await refresh_windows(pool)
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM window_invalidations") == 0
        total = 0
        for m in models:
            async with pool.acquire() as conn:
                raw = await raw_predictions(conn, m.id)
            for start, end, grans in RANGES:
                for gran in grans:
                    series = await svc.model_metrics(m.name, start, end, granularity=gran)
                    assert (series.start, series.end) == (start, end)
                    assert (series.requested_start, series.requested_end) == (start, end)
                    total += _check(series, _expected_series(m, raw, start, end, gran, lambda r: None))
                by_region = await svc.model_metrics(m.name, start, end, granularity="1h", group_by="region")
                total += _check(by_region, _expected_series(m, raw, start, end, "1h", region))
                eu = await svc.model_metrics(m.name, start, end, granularity="5m", filters={"region": "eu"})
                eu_rows = [r for r in raw if region(r) == "eu"]
                total += _check(eu, _expected_series(m, eu_rows, start, end, "5m", lambda r: None))
        assert total > 500, phase


async def test_sub_minute_custom_metrics_and_features(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(8)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        await copy_predictions(conn, prediction_rows(rng, m, 2000, minutes=120, labeled=0.5))
        times = [T0 + timedelta(seconds=float(s)) for s in rng.uniform(0, 7200, 1500)]
        values = rng.normal(3, 1, len(times))
        await conn.executemany(
            "INSERT INTO metrics (time, model_id, name, value, tags) VALUES ($1, $2, 'cost', $3, $4::jsonb)",
            [(t, m.id, float(v), json.dumps({"env": "prod" if i % 3 else "dev"}))
             for i, (t, v) in enumerate(zip(times, values, strict=True))],
        )
    await BaselineService(uow).create_from_range(m.name, "ref", T0, T0 + timedelta(hours=2))
    start, end = T0 + timedelta(minutes=9, seconds=41.5), T0 + timedelta(hours=1, minutes=50, seconds=3)
    svc = WindowsService(uow)
    for phase in ("pending", "refreshed"):
        if phase == "refreshed":
            await refresh_windows(pool)
        series = await svc.custom_metrics("cost", start, end, granularity="15m", model=m.name, group_by="env")
        assert (series.start, series.end) == (start, end)
        got = {(p.bucket, p.group): (p.count, p.sum) for p in series.points}
        want: dict[tuple[datetime, Any], list[float]] = defaultdict(list)
        g = GRANULARITIES["15m"]
        for i, (t, v) in enumerate(zip(times, values, strict=True)):
            if start <= t < end:
                want[(g.floor(t), "prod" if i % 3 else "dev")].append(float(v))
        assert set(got) == set(want)
        for k, vs in want.items():
            assert got[k][0] == len(vs) and got[k][1] == pytest.approx(sum(vs), rel=1e-9)
        feats = await svc.feature_histograms(m.name, start, end, granularity="1h")
        async with pool.acquire() as conn:
            raw = [r for r in await raw_predictions(conn, m.id) if start <= r["time"] < end]
        per_hour: dict[datetime, int] = defaultdict(int)
        for r in raw:
            per_hour[GRANULARITIES["1h"].floor(r["time"])] += 1
        for p in feats.points:
            assert p.n == per_hour[p.bucket], (phase, p.feature, p.bucket)
        assert {p.bucket for p in feats.points} == set(per_hour)
