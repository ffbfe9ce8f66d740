"""A monitor's `version` and `segment` restrict every analysis that can be restricted (drift, degradation, trend,
anomalies) to the same rows as the REST analysis with `version=` / `filter=`; quality, which reads the whole
model, is refused with them (422 naming the field) instead of silently ignoring them."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from engine.services.monitors.runner import run_pending
from engine.store import models_repo
from engine.store.unit import unit_from_pool
from tests.analyses.support import insert_rows
from tests.monitors.support import CUR_END, CUR_START, data

pytestmark = pytest.mark.asyncio
JSON = {"content-type": "application/json"}


async def _stored(pool: asyncpg.Pool, run_key: str, analysis: str) -> dict[tuple[str, str], tuple[float | None, str]]:
    rows = await pool.fetch(
        "SELECT subject, statistic, value, status, version_id, segment::text AS segment FROM analysis_results "
        "WHERE run_key = $1 AND analysis = $2 AND window_end = $3", run_key, analysis, CUR_END)
    return {(r["subject"], r["statistic"]): (r["value"], r["status"], r["version_id"], r["segment"]) for r in rows}


async def test_version_and_segment_scope_equal_rest(pool: asyncpg.Pool, client: AsyncTestClient) -> None:
    models = await data(pool)
    churn = models["churn"]
    rng = np.random.default_rng(1414)
    async with pool.acquire() as conn:
        v1, v2 = (await models_repo.list_versions(conn, churn.id))[:2]
        # the slice the monitor watches: v1 in region "us", labelled, unshifted; around it rows it must not see
        await insert_rows(conn, churn, v1.id, rng, CUR_START, CUR_END, 300, labeled=True, prefix="us1", region="us")
        await insert_rows(conn, churn, v2.id, rng, CUR_START, CUR_END, 400, shifted=True, labeled=True, prefix="us2",
                          region="us")
    base = "/api/v1/models/churn/monitors"
    body = {"name": "v1us", "version": "v1", "segment": {"region": "us"}, "window": "1h", "every": "1h",
            "analyses": [{"kind": "drift"}, {"kind": "degradation"},
                         {"kind": "trend", "params": {"lookback_days": 1, "granularity": "1h", "min_samples": 3}},
                         {"kind": "anomalies"}]}
    r = await client.post(base + "/", json=body)
    assert r.status_code == 201, r.text
    await client.post(f"{base}/v1us/run", params={"end": CUR_END.isoformat()}, headers=JSON)
    async with unit_from_pool(pool, share=False) as uow:
        assert (await run_pending(uow, r.json()["id"], "t")).statuses == {"succeeded": 1}
    [run] = (await client.get(f"{base}/v1us/runs")).json()
    assert run["rows_read"] == 300  # the sample count is of the slice too
    assert {k: v["status"] for k, v in run["details"].items()} == dict.fromkeys(
        ("drift", "degradation", "trend", "anomalies"), "ok")
    scope = {"version": "v1", "filter": "region=us"}
    window = {"start": CUR_START.isoformat(), "end": CUR_END.isoformat()}
    for path, extra in (("drift", {}), ("degradation", {}),
                        ("trend", {"metric": "accuracy", "granularity": "1h", "min_samples": 3,
                                   "start": (CUR_END - timedelta(days=1)).isoformat()})):
        r = await client.post(f"/api/v1/models/churn/{path}", params={**window, **scope, **extra}, headers=JSON)
        assert r.status_code == 200, r.text
        mine, rest = await _stored(pool, "monitor:v1us", path), await _stored(pool, "adhoc", path)
        assert mine and set(mine) == set(rest), path
        for k, (value, status, version_id, segment) in mine.items():
            assert rest[k][1:] == (status, version_id, segment) and version_id == v1.id, (path, k)
            assert value == pytest.approx(rest[k][0], rel=1e-12, abs=1e-12) if value is not None else rest[k][0] is None
    # degradation over the slice: the accuracy of exactly the v1/us rows (independent reference: the raw rows)
    raw = await pool.fetch("SELECT predicted_class, label_class FROM predictions WHERE model_id = $1 AND version_id = $2 "
                           "AND segments->>'region' = 'us' AND time >= $3 AND time < $4",
                           churn.id, v1.id, CUR_START, CUR_END)
    accuracy = float(np.mean([x["predicted_class"] == x["label_class"] for x in raw]))
    deg = (await client.get("/api/v1/models/churn/degradation", params={**window, **scope})).json()
    assert len(raw) == 300
    assert next(m for m in deg["metrics"] if m["metric"] == "accuracy")["current"] == pytest.approx(accuracy)
    anomalies = (await client.get("/api/v1/models/churn/anomalies",
                                  params={**window, **scope, "metric": "count", "granularity": "1m"})).json()
    assert sum(p["n"] for p in anomalies["points"]) == run["details"]["anomalies"]["n"] == 300
    # an unscoped REST drift differs (it sees the shifted rows): the scope is not a no-op
    whole = (await client.get("/api/v1/models/churn/drift", params=window)).json()
    scoped = (await client.get("/api/v1/models/churn/drift", params={**window, **scope})).json()
    assert whole["features"] != scoped["features"]


async def test_unscopable_analysis_refused(pool: asyncpg.Pool, client: AsyncTestClient) -> None:
    await data(pool, baseline=False)
    base = "/api/v1/models/churn/monitors/"
    for field, value in (("segment", {"region": "us"}), ("version", "v1")):
        r = await client.post(base, json={"name": f"q{field}", field: value, "analyses": [{"kind": "quality"}]})
        assert r.status_code == 422, r.text
        reasons = [e["reason"] for e in r.json()["errors"] if e["field"] == field]
        assert len(reasons) == 1 and "quality" in reasons[0], r.text
    # the defaults (drift, quality, degradation) with a segment: refused too, naming quality
    assert (await client.post(base, json={"name": "seg", "segment": {"region": "us"}})).status_code == 422
    ok = await client.post(base, json={"name": "seg", "segment": {"region": "us"}, "version": "v1",
                                       "analyses": [{"kind": "drift"}, {"kind": "degradation"}]})
    assert ok.status_code == 201, ok.text
