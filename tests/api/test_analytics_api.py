"""Seed 000's /analytics/model/{name}/metrics and /predictions answer from the windows, equal to the
/api/v1 windows endpoint over the same range, with a default range of the last 24 hours."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from engine.config import Settings
from engine.windows.catalog import GENERAL
from tests.conftest import refresh_windows
from tests.windows.streams import T0, copy_predictions, create_model, prediction_rows


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(Settings(database_url=db_url, pool_max_size=4))) as c:
        yield c


async def test_analytics_aliases_equal_the_windows_endpoint(client: AsyncTestClient, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        await copy_predictions(conn, prediction_rows(np.random.default_rng(7), m, 300, minutes=120, labeled=0.5))
    await refresh_windows(pool)
    params = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=2)).isoformat(), "granularity": "1h"}
    windows = (await client.get("/api/v1/models/bin/windows/metrics", params=params)).json()
    metrics = await client.get("/analytics/model/bin/metrics", params=params)
    assert metrics.status_code == 200 and metrics.json() == windows
    predictions = (await client.get("/analytics/model/bin/predictions", params=params)).json()
    assert predictions["metrics"] == list(GENERAL)
    assert sum(p["values"]["count"] for p in predictions["points"]) == 300
    for p, w in zip(predictions["points"], windows["points"], strict=True):
        assert p["values"] == {k: w["values"][k] for k in p["values"]}


async def test_analytics_default_range_is_the_last_day(client: AsyncTestClient, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await create_model(conn, "bin", "binary", ["neg", "pos"])
    before = datetime.now(UTC)
    body = (await client.get("/analytics/model/bin/predictions")).json()
    end = datetime.fromisoformat(body["end"])
    # up to the end of the current minute (reads are exact to the minute), 24 hours long, answered as asked
    assert before <= end <= datetime.now(UTC) + timedelta(minutes=1) and end.second == end.microsecond == 0
    assert end - datetime.fromisoformat(body["start"]) == timedelta(hours=24)
    assert body["requested_end"] == body["end"]
    assert (await client.get("/analytics/model/nope/metrics")).status_code == 404


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
async def test_default_metrics_without_latency(client: AsyncTestClient, task: str) -> None:
    """Predictions logged without `latency_ms` (labelled, through the REST API): the default metric list
    answers 200 with the latency metrics undefined, on the windows endpoint and both analytics aliases
    (it answered 500: a zero-width latency histogram reached the quantile function)."""
    labels = {"binary": ["no", "yes"], "multiclass": ["a", "b", "c"]}.get(task)
    assert (await client.post("/api/v1/models/", json={"name": "m", "task": task, "class_labels": labels})).status_code == 201
    assert (await client.post("/api/v1/models/m/versions", json={"version": "v1", "stage": "production"})).status_code == 201
    rng = np.random.default_rng(11)
    rows = []
    for i in range(30):
        row: dict[str, object] = {"prediction_id": f"p{i}", "time": (T0 + timedelta(minutes=2 * i)).isoformat()}
        if task == "regression":
            row |= {"prediction": float(rng.normal()), "label": float(rng.normal())}
        elif task == "binary":
            row |= {"score": float(rng.random()), "label": str(rng.choice(labels))}
        else:
            row |= {"prediction": str(rng.choice(labels)), "label": str(rng.choice(labels))}
        rows.append(row)
    assert (await client.post("/api/v1/models/m/predictions", json=rows)).status_code == 201
    params = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat(), "granularity": "1h"}
    for path in ("/api/v1/models/m/windows/metrics", "/analytics/model/m/metrics", "/analytics/model/m/predictions"):
        r = await client.get(path, params=params)
        assert r.status_code == 200, (path, r.text)
        [point] = r.json()["points"]
        assert point["values"]["count"] == 30
        assert point["values"]["latency_mean_ms"] is None
        assert point["values"].get("latency_p95_ms") is None and "latency_p95_ms" not in point["error_bounds"]
