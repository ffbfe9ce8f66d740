"""The documented SQL views (model_windows_*, custom_metrics_*) agree with the service's derived metrics,
ROC AUC and its bound included."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import numpy as np
import pytest

from engine.services.windows import WindowsService
from engine.store.unit import UnitOfWork
from tests.conftest import refresh_windows
from tests.windows.helpers import assert_view_row
from tests.windows.streams import T0, copy_predictions, create_model, prediction_rows

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("level", ["1m", "1h", "1d"])
async def test_model_windows_view_matches_service(pool: asyncpg.Pool, level: str, uow: UnitOfWork) -> None:
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"], dims=(), versions=("v1",))
        await copy_predictions(
            conn, prediction_rows(np.random.default_rng(71), m, 1500, minutes=180, labeled=0.5)
        )
    await refresh_windows(pool)
    series = await WindowsService(uow).model_metrics("bin", T0, T0 + timedelta(hours=3), granularity=level)
    async with pool.acquire() as conn:
        rows = {
            r["bucket"]: r
            for r in await conn.fetch(f"SELECT * FROM model_windows_{level} WHERE model = 'bin'")
        }
    assert len(rows) == len(series.points) > 0
    assert sum(r["roc_auc"] is not None for r in rows.values()) > len(rows) // 4
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
    checked = sum(assert_view_row(rows[p.bucket], p.values, p.error_bounds, cols) for p in series.points)
    assert checked > 5 * len(series.points)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
async def test_views_serve_precision_recall_f1(pool: asyncpg.Pool, task: str, uow: UnitOfWork) -> None:
    """0007: precision / recall / F1 per class (class_labels order) and macro in `model_windows_*` and
    `model_version_windows_*`, and the positive class's for binary models, equal the service's."""
    classes = ["neg", "pos"] if task == "binary" else ["a", "b", "c"]
    async with pool.acquire() as conn:
        m = await create_model(conn, "clf", task, classes, dims=(), versions=("v1",))
        await copy_predictions(conn, prediction_rows(np.random.default_rng(73), m, 900, minutes=120, labeled=0.5))
    await refresh_windows(pool)
    series = await WindowsService(uow).model_metrics("clf", T0, T0 + timedelta(hours=2), granularity="1h")
    assert series.points
    for view in ("model_windows_1h", "model_version_windows_1h"):
        async with pool.acquire() as conn:
            rows = {r["bucket"]: r for r in await conn.fetch(f"SELECT * FROM {view} WHERE model = 'clf'")}
        assert set(rows) == {p.bucket for p in series.points}
        for p in series.points:
            row = rows[p.bucket]
            for rate in ("precision", "recall", "f1"):
                per_class = p.per_class[f"{rate}_per_class"]
                assert row[f"{rate}_per_class"] == pytest.approx([per_class[c] for c in classes], rel=1e-12)
                assert row[f"{rate}_macro"] == pytest.approx(p.values[f"{rate}_macro"], rel=1e-12)
                if task == "binary":
                    assert row[rate] == pytest.approx(p.values[rate], rel=1e-12)
                else:
                    assert row[rate] is None
