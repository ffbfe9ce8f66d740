"""The documented SQL views (model_windows_*, custom_metrics_*) agree with the service's derived metrics,
ROC AUC and its bound included."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import numpy as np
import pytest

from engine.services.windows import WindowsService
from engine.windows.refresher import refresh
from tests.windows.streams import T0, copy_predictions, create_model, prediction_rows

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("level", ["1m", "1h", "1d"])
async def test_model_windows_view_matches_service(pool: asyncpg.Pool, level: str) -> None:
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"], dims=(), versions=("v1",))
        await copy_predictions(
            conn, prediction_rows(np.random.default_rng(71), m, 1500, minutes=180, labeled=0.5)
        )
    await refresh(pool)
    series = await WindowsService(pool).model_metrics("bin", T0, T0 + timedelta(hours=3), granularity=level)
    async with pool.acquire() as conn:
        rows = {
            r["bucket"]: r
            for r in await conn.fetch(f"SELECT * FROM model_windows_{level} WHERE model = 'bin'")
        }
    assert len(rows) == len(series.points) > 0
    assert sum(r["roc_auc"] is not None for r in rows.values()) > len(rows) // 4
    checked = 0
    for p in series.points:
        r = rows[p.bucket]
        assert r["predictions"] == p.values["count"]
        cols = (
            "accuracy",
            "log_loss",
            "brier",
            "label_coverage",
            "latency_mean_ms",
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_p99_ms",
            "roc_auc",
        )
        if p.values.get("roc_auc") is None:  # a class absent: no AUC, no bound
            assert r["roc_auc"] is None and r["roc_auc_bound"] is None
        else:
            assert r["roc_auc_bound"] == pytest.approx(p.error_bounds.get("roc_auc", 0.0), rel=1e-9, abs=1e-15)
        for col in cols:
            want = p.values.get(col)
            if want is None:
                assert r[col] is None, col
            else:
                assert r[col] == pytest.approx(want, rel=1e-9), col
            checked += want is not None
    assert checked > 5 * len(series.points)
