"""REST: the windows endpoints serve the service's series as JSON; errors map to 404 / 422."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from engine.config import Settings
from tests.conftest import refresh_windows
from tests.windows.streams import T0, copy_predictions, create_model, prediction_rows

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(Settings(database_url=db_url, pool_max_size=4))) as c:
        yield c


async def test_metrics_endpoint(client: AsyncTestClient, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        await copy_predictions(
            conn, prediction_rows(np.random.default_rng(61), m, 500, minutes=120, labeled=0.5)
        )
        await conn.copy_records_to_table(
            "metrics",
            records=[(T0, m.id, "cost", 2.5, json.dumps({"env": "prod"}))],
            columns=["time", "model_id", "name", "value", "tags"],
        )
    await refresh_windows(pool)
    params = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=2)).isoformat(), "granularity": "1h"}
    r = await client.get(
        "/api/v1/models/bin/windows/metrics", params={**params, "metrics": "count,accuracy,roc_auc"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["granularity"] == "1h" and len(body["points"]) == 2
    assert sum(p["values"]["count"] for p in body["points"]) == 500
    assert set(body["points"][0]["values"]) <= {"count", "accuracy", "roc_auc"}
    assert "roc_auc" in body["points"][0]["error_bounds"]
    r = await client.get("/api/v1/models/bin/windows/metrics", params={**params, "group_by": "version"})
    assert {p["group"] for p in r.json()["points"]} == {"v1", "v2"}
    r = await client.get("/api/v1/metrics/cost/windows", params={**params, "model": "bin", "group_by": "env"})
    assert r.status_code == 200 and r.json()["points"][0]["group"] == "prod"
    r = await client.get("/api/v1/models/bin/windows/features", params=params)
    assert r.status_code == 200 and r.json()["points"] == []
    assert (await client.get("/api/v1/models/nope/windows/metrics", params=params)).status_code == 404
    bad = await client.get("/api/v1/models/bin/windows/metrics", params={**params, "group_by": "planet"})
    assert bad.status_code == 422 and "group_by" in bad.text


async def test_empty_ranges_are_empty_series_not_errors(client: AsyncTestClient, pool: asyncpg.Pool) -> None:
    """A range with no data (found by the API fuzzer: a custom metric nobody logged) is an empty series,
    for every endpoint and grouping, before and after a refresh, with and without pending data elsewhere."""
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        await copy_predictions(conn, prediction_rows(np.random.default_rng(62), m, 50, minutes=30))
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, edges) VALUES ($1, 'x1', 'numeric', '{0}')", m.id
        )
    empty = {"start": (T0 - timedelta(days=400)).isoformat(), "end": (T0 - timedelta(days=399)).isoformat()}
    for phase in ("pending", "refreshed"):
        if phase == "refreshed":
            await refresh_windows(pool)
        for path, extra in (
            ("/api/v1/models/bin/windows/metrics", {}),
            ("/api/v1/models/bin/windows/metrics", {"group_by": "version"}),
            ("/api/v1/models/bin/windows/metrics", {"group_by": "region", "granularity": "1m"}),
            ("/api/v1/models/bin/windows/features", {}),
            ("/api/v1/metrics/nobody-logs-this/windows", {}),
            ("/api/v1/metrics/nobody-logs-this/windows", {"model": "bin", "group_by": "env"}),
        ):
            r = await client.get(path, params={**empty, **extra})
            assert r.status_code == 200, (phase, path, extra, r.text)
            assert r.json()["points"] == [], (phase, path, extra)


async def test_unencoded_offset_gets_a_hint(client: AsyncTestClient, pool: asyncpg.Pool) -> None:
    """`+00:00` typed into a URL arrives as ` 00:00`: the 400 says to use Z or %2B; read errors speak of
    the read, not of a batch."""
    async with pool.acquire() as conn:
        await create_model(conn, "bin", "binary", ["neg", "pos"])
    r = await client.get("/api/v1/models/bin/windows/metrics?start=2026-03-01T00:00:00+00:00&end=2026-03-02T00:00:00Z")
    assert r.status_code == 400 and "%2B" in r.text and " Z" in r.text, r.text
    r = await client.get("/api/v1/models/bin/windows/metrics",
                         params={"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat(),
                                 "granularity": "2m"})
    assert r.status_code == 422 and "invalid read parameter granularity" in r.text and "batch" not in r.text, r.text
