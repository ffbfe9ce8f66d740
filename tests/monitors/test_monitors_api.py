"""Monitors over REST for binary, multiclass and regression models: CRUD, validation, the default monitor a
baseline brings, declarative PUT with its diff, run history and "run now" deduplication."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.monitors.support import CUR_END, REF_END, data

pytestmark = pytest.mark.asyncio
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("labeled", [True, False])
async def test_default_monitor_from_baseline(pool: asyncpg.Pool, client: AsyncTestClient, labeled: bool) -> None:
    await data(pool, labeled_reference=labeled)
    r = await client.get("/api/v1/monitors")
    assert r.status_code == 200, r.text
    monitors = {m["model"]: m for m in r.json()}
    assert set(monitors) == {"churn", "iris", "price"}
    for m in monitors.values():
        assert m["name"] == "default" and m["window"] == "1h" and m["every"] == "1h" and m["granularity"] == "1m"
        kinds = [a["kind"] for a in m["analyses"]]
        assert kinds == (["drift", "quality", "degradation"] if labeled else ["drift", "quality"])
        assert m["min_samples"] == 10 and m["alert_threshold"] == 0.1 and m["alert_cooldown_hours"] == 24.0
        drift = next(a for a in m["analyses"] if a["kind"] == "drift")
        assert drift["params"]["alpha"] == 0.05
    if labeled:
        deg = next(a for a in monitors["churn"]["analyses"] if a["kind"] == "degradation")["params"]
        assert deg["retrain_at"] == 0.15 and deg["thresholds"]["roc_auc"] == 0.03 and deg["thresholds"]["mae"] == 0.10


@pytest.mark.parametrize("model", ["churn", "iris", "price"])
async def test_crud_and_validation(pool: asyncpg.Pool, client: AsyncTestClient, model: str) -> None:
    await data(pool, baseline=False)
    base = f"/api/v1/models/{model}/monitors"
    assert (await client.get(base + "/")).json() == []
    body = {"name": "daily", "window": "24h", "granularity": "1h", "cron": "0 0 * * *",
            "analyses": [{"kind": "drift", "params": {"rule": "classic"}}, {"kind": "trend"},
                         {"kind": "anomalies", "params": {"metric": "count"}}]}
    r = await client.post(base + "/", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["cron"] == "0 0 * * *" and created["every"] is None and created["window_seconds"] == 86400
    assert (await client.post(base + "/", json=body)).status_code == 409
    # every problem at once, each naming its field; an unknown analysis lists the known ones
    bad = {"name": "x", "window": "90", "granularity": "2m", "analyses": [{"kind": "sharpness"}],
           "segment": {"nope": "1"}, "every": "1h", "cron": "* * * * *", "min_samples": 0}
    r = await client.post(base + "/", json=bad)
    assert r.status_code == 422, r.text
    fields = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert {"window", "granularity", "every/cron", "segment.nope", "min_samples", "analyses.kind"} <= set(fields)
    assert "drift, quality, degradation, trend, anomalies" in fields["analyses.kind"]
    r = await client.post(base + "/", json={"name": "y", "analyses": [{"kind": "drift", "params": {"alfa": 1}}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "analyses.drift.params", r.text
    r = await client.post(base + "/", json={"name": "y", "cron": "* * * * * */5"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cron"
    r = await client.post(base + "/", json={"name": "y", "analyses": [{"kind": "trend", "params": {"metric": "rmse" if model != "price" else "accuracy"}}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "analyses.trend.params.metric", r.text
    # declarative PUT: dry run shows the diff and writes nothing; unchanged is a no-op
    put = {**body, "window": "12h"}
    r = await client.put(f"{base}/daily", params={"dry_run": "true"}, json=put)
    assert r.status_code == 200, r.text
    assert r.json()["change"] == "updated" and [d["field"] for d in r.json()["diff"]] == ["window_seconds"]
    assert (await client.get(f"{base}/daily")).json()["window"] == "1d"
    r = await client.put(f"{base}/daily", json=put)
    assert r.json()["change"] == "updated" and r.json()["monitor"]["window"] == "12h"
    assert (await client.put(f"{base}/daily", json=put)).json()["change"] == "unchanged"
    r = await client.put(f"{base}/other", json=put)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    r = await client.put(f"{base}/new", json={"name": "new"})
    assert r.json()["change"] == "created" and r.json()["monitor"]["every"] == "1h"
    assert [m["name"] for m in (await client.get(base + "/")).json()] == ["daily", "new"]
    assert (await client.delete(f"{base}/new")).json()["name"] == "new"
    assert (await client.get(f"{base}/new")).status_code == 404
    assert (await client.get("/api/v1/models/nope/monitors/")).status_code == 404
    assert (await client.post(base + "/", content=b"{}", headers={"content-type": "text/plain"})).status_code == 415


async def test_run_now_dedup_and_history(pool: asyncpg.Pool, client: AsyncTestClient) -> None:
    await data(pool)
    base = "/api/v1/models/churn/monitors/default"
    end = CUR_END.isoformat()
    r = await client.post(f"{base}/run", params={"end": end}, headers=JSON)
    assert r.status_code == 202, r.text
    first = r.json()
    assert not first["noop"] and first["job_queued"] and first["run"]["status"] == "queued"
    r = await client.post(f"{base}/run", params={"end": end}, headers=JSON)
    second = r.json()
    assert second["noop"] and not second["job_queued"] and "no-op" in second["message"]
    # another window while the monitor's job is queued: the window is queued, no second job
    r = await client.post(f"{base}/run", headers=JSON)
    third = r.json()
    assert not third["noop"] and not third["job_queued"]
    async with pool.acquire() as conn:
        jobs = await conn.fetch("SELECT task_name, lock, queueing_lock, status::text FROM procrastinate_jobs")
    key = f"monitor:{(await client.get(base)).json()['id']}"
    # one queued job for the monitor: the lock keeps its runs apart, the queueing lock keeps one job queued
    assert [tuple(j) for j in jobs] == [("driftline.run_monitor", key, key, "todo")]
    runs = (await client.get(f"{base}/runs")).json()
    assert len(runs) == 2 and {r["status"] for r in runs} == {"queued"}
    one = (await client.get(f"{base}/runs/{first['run']['id']}")).json()
    assert one["window_end"].startswith(CUR_END.isoformat()[:19]) and one["trigger"] == "manual"
    assert (await client.get(f"{base}/runs/999999")).status_code == 404
    assert (await client.get(f"{base}/runs", params={"status": "bogus"})).status_code == 422


async def test_no_data_below_min_samples_and_failed_run_with_traceback(pool: asyncpg.Pool,
                                                                        client: AsyncTestClient) -> None:
    """Below min_samples a window stores "no data" (results and run), not a verdict; an error is recorded on
    the run with its traceback, and the next window still runs."""
    from engine.services.monitors.runner import run_pending
    from engine.store.unit import unit_from_pool

    await data(pool)
    base = "/api/v1/models/iris/monitors"
    made = (await client.post(base + "/", json={"name": "strict", "min_samples": 100_000})).json()
    await client.post(f"{base}/strict/run", params={"end": CUR_END.isoformat()}, headers=JSON)
    async with unit_from_pool(pool, share=False) as uow:
        assert (await run_pending(uow, made["id"], "t")).statuses == {"no_data": 1}
    [run] = (await client.get(f"{base}/strict/runs")).json()
    assert run["status"] == "no_data" and run["rows_read"] == 600 and run["attempt"] == 1
    rows = await pool.fetch("SELECT analysis, status, value FROM analysis_results WHERE run_key = 'monitor:strict'")
    assert sorted(r["analysis"] for r in rows) == ["degradation", "drift", "quality"]
    assert {(r["status"], r["value"]) for r in rows} == {("no_data", 600.0)}
    # a stored config the engine cannot use (written behind its back): the run fails, said with a traceback
    await pool.execute("""UPDATE monitors SET analyses = '[{"kind": "drift", "params": {"rule": "bogus"}}]',
                          min_samples = 1 WHERE id = $1""", made["id"])
    await client.post(f"{base}/strict/run", params={"end": REF_END.isoformat()}, headers=JSON)
    await client.post(f"{base}/strict/run", params={"end": (REF_END - timedelta(hours=1)).isoformat()}, headers=JSON)
    async with unit_from_pool(pool, share=False) as uow:
        assert (await run_pending(uow, made["id"], "t")).statuses == {"failed": 2}
    failed = (await client.get(f"{base}/strict/runs", params={"status": "failed"})).json()
    assert len(failed) == 2 and all("rule" in r["error"] and "Traceback" in r["traceback"] for r in failed)
