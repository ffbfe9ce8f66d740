"""Derived window metrics equal scikit-learn / numpy on the raw rows of each window: exactly for the
count- and sum-based ones, within the stated bound for ROC AUC and latency quantiles. Before the refresh
(real-time reads over pending ranges), after it, grouped by version and by segment, at 1m / 1h / 1d."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest

from engine.services.windows import MetricSeries, WindowsService
from engine.store.unit import UnitOfWork
from engine.windows.spec import LEVELS, LevelName
from tests.conftest import refresh_windows
from tests.windows.oracle import expected_metrics, group_rows
from tests.windows.streams import (
    T0,
    Model,
    copy_predictions,
    create_model,
    insert_predictions,
    label_late,
    prediction_rows,
    raw_predictions,
)

pytestmark = pytest.mark.asyncio
BOUNDED = {"roc_auc", "average_precision", "ece", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"}


def check_series(
    model: Model,
    series: MetricSeries,
    raw: list[asyncpg.Record],
    level: LevelName,
    key: Any = lambda r: None,
    versions: dict[int, str] | None = None,
) -> int:
    groups = group_rows(raw, level, key)
    seconds = LEVELS[level].width.total_seconds()
    points = {(p.bucket, p.group): p for p in series.points}
    assert set(points) == set(groups), f"buckets/groups differ: {set(points) ^ set(groups)}"
    checked = 0
    for gk, rows in groups.items():
        point = points[gk]
        expected = expected_metrics(model, rows, seconds)
        for name, want in expected.items():
            got = point.values.get(name)
            if want is None or (isinstance(want, float) and math.isnan(want)):
                continue
            assert got is not None, f"{name} missing at {gk}"
            if name in BOUNDED:
                bound = point.error_bounds.get(name, 0.0)
                assert abs(got - want) <= bound + 1e-9 * max(1.0, abs(want)), (
                    f"{name} at {gk}: {got} vs {want} ± {bound}"
                )
            else:
                assert got == pytest.approx(want, rel=1e-9, abs=1e-9), f"{name} at {gk}: {got} != {want}"
            checked += 1
    return checked


async def _models(conn: asyncpg.Connection) -> list[Model]:
    return [
        await create_model(conn, "bin", "binary", ["neg", "pos"], threshold=0.45),
        await create_model(conn, "multi", "multiclass", ["a", "b", "c", "d"]),
        await create_model(conn, "reg", "regression"),
    ]


@pytest.mark.parametrize("seed", [11, 12])
async def test_metrics_equal_sklearn_before_and_after_refresh(pool: asyncpg.Pool, seed: int, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(seed)
    async with pool.acquire() as conn:
        models = await _models(conn)
        for m in models:
            rows = prediction_rows(rng, m, 1200, minutes=300, labeled=0.3)
            await copy_predictions(conn, rows[:800])
    await refresh_windows(pool)
    async with pool.acquire() as conn:  # after the refresh: late rows, out of order, and late labels
        for m in models:
            await insert_predictions(
                conn,
                prediction_rows(
                    rng, m, 150, start=T0 - timedelta(hours=26), minutes=120, id_prefix="late", labeled=0.5
                ),
            )
            await copy_predictions(conn, prediction_rows(rng, m, 300, minutes=300, id_prefix="tail"))
            await label_late(conn, rng, m, 0.5)
        assert await conn.fetchval("SELECT count(*) FROM window_invalidations") > 0
    svc = WindowsService(uow)
    start, end = T0 - timedelta(days=2), T0 + timedelta(days=1)
    for phase in ("pending", "refreshed"):
        if phase == "refreshed":
            await refresh_windows(pool)
        async with pool.acquire() as conn:
            raws = {m.name: await raw_predictions(conn, m.id) for m in models}
        total = 0
        for m in models:
            for level in ("1h", "1d"):
                series = await svc.model_metrics(m.name, start, end, granularity=level)
                total += check_series(m, series, raws[m.name], level)
        # 1-minute windows over a few hours
        m = models[0]
        series = await svc.model_metrics(m.name, T0, T0 + timedelta(hours=2), granularity="1m")
        total += check_series(
            m, series, [r for r in raws[m.name] if T0 <= r["time"] < T0 + timedelta(hours=2)], "1m"
        )
        assert total > 500, phase


async def test_grouped_by_version_and_segment(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(21)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"], dims=("region",))
        await copy_predictions(conn, prediction_rows(rng, m, 2000, minutes=240, labeled=0.6))
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        await copy_predictions(conn, prediction_rows(rng, m, 200, minutes=240, id_prefix="t", labeled=0.6))
        raw = await raw_predictions(conn, m.id)
    svc = WindowsService(uow)
    start, end = T0, T0 + timedelta(hours=4)
    by_version = await svc.model_metrics(m.name, start, end, granularity="1h", group_by="version")
    names = {vid: v for v, vid in m.versions.items()}
    assert check_series(m, by_version, raw, "1h", key=lambda r: names[r["version_id"]]) > 50
    by_region = await svc.model_metrics(m.name, start, end, granularity="1h", group_by="region")
    assert check_series(m, by_region, raw, "1h", key=lambda r: json.loads(r["segments"]).get("region")) > 50


async def test_auto_granularity_and_bad_input(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    from engine.errors import NotFoundError, ValidationError

    async with pool.acquire() as conn:
        await create_model(conn, "bin", "binary", ["neg", "pos"])
    svc = WindowsService(uow)
    assert (await svc.model_metrics("bin", T0, T0 + timedelta(hours=5))).granularity == "1m"
    assert (await svc.model_metrics("bin", T0, T0 + timedelta(days=30))).granularity == "1h"
    assert (await svc.model_metrics("bin", T0, T0 + timedelta(days=90))).granularity == "6h"
    assert (await svc.model_metrics("bin", T0, T0 + timedelta(days=365))).granularity == "1d"
    assert (await svc.model_metrics("bin", T0, T0 + timedelta(days=3650))).granularity == "1w"
    # the finest granularity whose bucket count stays within max_points
    assert (await svc.model_metrics("bin", T0, T0 + timedelta(hours=5), max_points=100)).granularity == "5m"
    assert (await svc.model_metrics("bin", T0, T0 + timedelta(hours=5), max_points=20)).granularity == "15m"
    with pytest.raises(NotFoundError):
        await svc.model_metrics("nope", T0, T0 + timedelta(hours=1))
    with pytest.raises(ValidationError, match="group_by"):
        await svc.model_metrics("bin", T0, T0 + timedelta(hours=1), group_by="planet")
    with pytest.raises(ValidationError, match="granularity"):
        await svc.model_metrics("bin", T0, T0 + timedelta(hours=1), granularity="7m")
    with pytest.raises(ValidationError, match="metrics"):
        await svc.model_metrics("bin", T0, T0 + timedelta(hours=1), metrics=["rmse"])
    with pytest.raises(ValidationError, match="end"):
        await svc.model_metrics("bin", T0, T0)


async def test_metric_subsets_read_fewer_columns_same_values(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(22)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        await copy_predictions(conn, prediction_rows(rng, m, 800, minutes=120, labeled=0.6))
    await refresh_windows(pool)
    svc = WindowsService(uow)
    full = await svc.model_metrics("bin", T0, T0 + timedelta(hours=2), granularity="1h")
    for subset in (["accuracy"], ["roc_auc", "latency_p95_ms"], ["label_coverage", "log_loss", "f1_macro"]):
        part = await svc.model_metrics("bin", T0, T0 + timedelta(hours=2), granularity="1h", metrics=subset)
        for a, b in zip(part.points, full.points, strict=True):
            assert a.values == {k: v for k, v in b.values.items() if k in subset}
