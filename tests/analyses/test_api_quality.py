"""Quality, degradation and the performance summary over REST for binary, multiclass and regression models,
with and without labels in the window, filtered by segment; bad parameters are 4xx, never 5xx."""

from __future__ import annotations

import asyncpg
import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from engine.store import models_repo
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows
from tests.ingest.support import register_all

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("labeled", [True, False])
@pytest.mark.parametrize("model", ["churn", "iris", "price"])
async def test_quality_and_degradation_over_rest(
    pool: asyncpg.Pool, client: AsyncTestClient, model: str, labeled: bool
) -> None:
    models = await register_all(pool)
    m = models[model]
    rng = np.random.default_rng(5)
    async with pool.acquire() as conn:
        [v1, *_] = await models_repo.list_versions(conn, m.id)
        await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 900, prefix="ref")
        await insert_rows(conn, m, v1.id, rng, CUR_START, CUR_END, 500, shifted=True, labeled=labeled, prefix="cur")
    base = f"/api/v1/models/{model}"
    params = {"start": CUR_START.isoformat(), "end": CUR_END.isoformat()}
    # before a baseline: quality without per-feature rates, degradation 404
    r = await client.get(f"{base}/quality", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["features"] == [] and r.json()["features_note"]
    assert (await client.get(f"{base}/degradation", params=params)).status_code == 404
    r = await client.post(f"{base}/baselines/", json={"name": "ref", "start": REF_START.isoformat(),
                                                     "end": REF_END.isoformat()})
    assert r.status_code == 201, r.text
    r = await client.get(f"{base}/quality", params={**params, "max_staleness_s": 600})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["n"] == 500 and {f["feature"] for f in body["features"]} == {f.name for f in m.features}
    column = m.features[0].name
    r = await client.post(f"{base}/quality", params=params,
                          json={"rules": [{"check": "not_null", "column": column},
                                          {"check": "compare", "left": "predicted_value" if m.task == "regression" else "score", "op": ">=", "right": 0}]})
    assert r.status_code == 200, r.text
    assert [x["check"] for x in r.json()["rules"]] == ["not_null", "compare"]
    bad = await client.post(f"{base}/quality", params=params, json={"rules": [{"check": "nope"}]})
    assert bad.status_code in (400, 422), bad.text
    filters = {"region": "eu"} if "region" in m.dimensions else {}
    for method in ("get", "post"):
        query = {**params, "filter": "region=eu"} if filters else params
        kwargs = {"headers": {"content-type": "application/json"}} if method == "post" else {}
        r = await getattr(client, method)(f"{base}/degradation", params=query, **kwargs)
        assert r.status_code == 200, r.text
        rep = r.json()
        assert rep["filters"] == filters and rep["metrics"]
        statuses = {x["status"] for x in rep["metrics"]}
        assert statuses <= ({"ok", "degraded", "insufficient_samples"} if labeled else {"no_data"})
    r = await client.get(f"{base}/degradation", params={**params, "filter": "nope=1"})
    assert r.status_code in (400, 422)
    r = await client.get(f"{base}/results", params={**params, "analysis": "degradation"})
    assert r.status_code == 200 and r.json()["results"]
    r = await client.get(f"{base}/performance-summary", params={"days": 7})
    assert r.status_code == 200, r.text
    assert set(r.json()) >= {"total_records", "performance_trend", "degradation_summary"}
    assert (await client.get(f"{base}/performance-summary", params={"days": 0})).status_code in (400, 422)
