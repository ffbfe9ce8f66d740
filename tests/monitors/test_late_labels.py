"""Labels that arrive after their window ran: a monitor whose degradation has `lookback_windows: N` judges the
N earlier windows of its schedule again at each run (their results replaced, equal to the REST analysis of
that window now); without it the earlier window keeps its verdict."""

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
W1_START, W1_END = CUR_START - timedelta(hours=1), CUR_START


async def _rows(pool: asyncpg.Pool, run_key: str) -> dict[tuple[str, str], tuple[float | None, str]]:
    rows = await pool.fetch("SELECT subject, statistic, value, status FROM analysis_results WHERE run_key = $1 "
                            "AND analysis = 'degradation' AND window_end = $2", run_key, W1_END)
    return {(r["subject"], r["statistic"]): (r["value"], r["status"]) for r in rows}


async def _run(client: AsyncTestClient, pool: asyncpg.Pool, ids: dict[str, int], end: str) -> None:
    for name, monitor_id in ids.items():
        r = await client.post(f"/api/v1/models/churn/monitors/{name}/run", params={"end": end}, headers=JSON)
        assert r.status_code == 202, r.text
        async with unit_from_pool(pool, share=False) as uow:
            assert (await run_pending(uow, monitor_id, "t")).statuses == {"succeeded": 1}


async def test_lookback_rejudges_earlier_windows_when_labels_arrive(pool: asyncpg.Pool,
                                                                    client: AsyncTestClient) -> None:
    models = await data(pool)
    churn = models["churn"]
    async with pool.acquire() as conn:
        [v1, *_] = await models_repo.list_versions(conn, churn.id)
        await insert_rows(conn, churn, v1.id, np.random.default_rng(7), W1_START, W1_END, 300, labeled=False,
                          prefix="w1")
    base = "/api/v1/models/churn/monitors/"
    ids = {}
    for name, lookback in (("late", 2), ("plain", 0)):
        r = await client.post(base, json={"name": name, "analyses": [
            {"kind": "degradation", "params": {"lookback_windows": lookback}}]})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
        assert r.json()["analyses"][0]["params"]["lookback_windows"] == lookback
    bad = await client.post(base, json={"name": "x", "analyses": [{"kind": "degradation",
                                                                   "params": {"lookback_windows": -1}}]})
    assert bad.status_code == 422 and "lookback_windows" in bad.text
    await _run(client, pool, ids, W1_END.isoformat())
    before = await _rows(pool, "monitor:late")
    assert before == await _rows(pool, "monitor:plain")
    assert before[("accuracy", "relative_degradation")][1] == "no_data"  # no label yet
    # the labels of the first window arrive while the second window is open
    rng = np.random.default_rng(8)
    labels = [{"prediction_id": f"w1-{i}", "label": str(rng.choice(["stay", "churn"]))} for i in range(300)]
    r = await client.post("/api/v1/models/churn/labels", json=labels)
    assert r.status_code == 201 and r.json()["written"] == 300, r.text
    await _run(client, pool, ids, CUR_END.isoformat())
    assert await _rows(pool, "monitor:plain") == before  # no lookback: the verdict of the first run stays
    late = await _rows(pool, "monitor:late")
    assert late[("accuracy", "relative_degradation")][1] in ("ok", "warning", "critical")
    # equal to the REST analysis of the first window now
    r = await client.post("/api/v1/models/churn/degradation",
                          params={"start": W1_START.isoformat(), "end": W1_END.isoformat(), "min_samples": 30},
                          headers=JSON)
    assert r.status_code == 200, r.text
    rest = await _rows(pool, "adhoc")
    assert set(late) == set(rest)
    for k, (value, status) in late.items():
        assert status == rest[k][1], k
        assert (value is None and rest[k][0] is None) or value == pytest.approx(rest[k][0], rel=1e-12), k
    # independent reference: the accuracy of the labelled raw rows of the window
    raw = await pool.fetch("SELECT predicted_class, label_class FROM predictions WHERE model_id = $1 AND time >= $2 "
                           "AND time < $3", churn.id, W1_START, W1_END)
    accuracy = float(np.mean([x["predicted_class"] == x["label_class"] for x in raw]))
    current = next(m for m in r.json()["metrics"] if m["metric"] == "accuracy")["current"]
    assert len(raw) == 300 and current == pytest.approx(accuracy)
    # two windows back from each run: the empty hour [3h, 4h) gets no rows (below min_samples), the labelled
    # reference hour [2h, 3h) two windows before the first run is judged too
    ends = await pool.fetch("SELECT DISTINCT window_end FROM analysis_results WHERE run_key = 'monitor:late'")
    assert sorted(r["window_end"] for r in ends) == [W1_END - timedelta(hours=2), W1_END, CUR_END]


async def test_monitor_saved_before_lookback_reads_with_default(pool: asyncpg.Pool, client: AsyncTestClient) -> None:
    """A monitor stored before `lookback_windows` existed shows its default, and re-applying the same body is a
    no-op (not an "updated" diff of the new parameter)."""
    await data(pool, baseline=False)
    body = {"name": "old", "analyses": [{"kind": "degradation"}]}
    assert (await client.post("/api/v1/models/churn/monitors/", json=body)).status_code == 201
    await pool.execute("UPDATE monitors SET analyses = jsonb_set(analyses, '{0,params}', "
                       "(analyses -> 0 -> 'params') - 'lookback_windows') WHERE name = 'old'")
    assert "lookback_windows" not in await pool.fetchval("SELECT analyses::text FROM monitors WHERE name = 'old'")
    got = (await client.get("/api/v1/models/churn/monitors/old")).json()
    assert got["analyses"][0]["params"]["lookback_windows"] == 0
    r = await client.put("/api/v1/models/churn/monitors/old", json=body)
    assert r.status_code == 200 and r.json()["change"] == "unchanged", r.text
