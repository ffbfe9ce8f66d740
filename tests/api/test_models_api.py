"""Models and versions through the REST API: create/list/get, versions, promote, archive, and their errors."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

MODELS = "/api/v1/models"

SPEC: dict[str, Any] = {
    "name": "fraud",
    "task": "binary",
    "class_labels": ["ok", "fraud"],
    "threshold": 0.7,
    "dimensions": ["country"],
    "description": "card fraud",
    "features": [
        {"name": "amount", "kind": "numeric", "min_value": 0, "max_value": 1e6},
        {"name": "mcc", "kind": "categorical", "categories": ["5411", "5812"]},
        {"name": "hour", "kind": "numeric", "nullable": False},
    ],
}

JSON_H = {"content-type": "application/json"}  # every POST declares JSON, even without a body


async def test_create_list_get_model(client: AsyncTestClient, pool: asyncpg.Pool) -> None:
    r = await client.post(f"{MODELS}/", json=SPEC)
    assert r.status_code == 201, r.text
    body = r.json()
    assert {k: body[k] for k in ("name", "task", "class_labels", "threshold", "dimensions", "description")} == {
        k: SPEC[k] for k in ("name", "task", "class_labels", "threshold", "dimensions", "description")
    }
    feats = {f["name"]: f for f in body["features"]}
    assert feats.keys() == {"amount", "mcc", "hour"}
    assert (feats["amount"]["kind"], feats["amount"]["position"], feats["amount"]["max_value"]) == ("numeric", 1, 1e6)
    assert (feats["hour"]["position"], feats["hour"]["nullable"]) == (2, False)
    assert (feats["mcc"]["position"], feats["mcc"]["categories"]) == (1, ["5411", "5812"])
    # What the API says is what the database holds.
    row = await pool.fetchrow("SELECT * FROM models WHERE name = 'fraud'")
    assert (row["id"], row["task"], list(row["class_labels"]), row["threshold"]) == (body["id"], "binary", ["ok", "fraud"], 0.7)
    db_feats = {r["name"]: (r["kind"], r["position"], r["nullable"]) for r in
                await pool.fetch("SELECT * FROM model_features WHERE model_id = $1", body["id"])}
    assert db_feats == {n: (f["kind"], f["position"], f["nullable"]) for n, f in feats.items()}

    await client.post(f"{MODELS}/", json={"name": "aaa-reg", "task": "regression"})
    r = await client.get(f"{MODELS}/")
    assert r.status_code == 200
    assert [m["name"] for m in r.json()] == ["aaa-reg", "fraud"]
    r = await client.get(f"{MODELS}/fraud")
    assert r.status_code == 200 and r.json() == body


async def test_model_errors(client: AsyncTestClient, pool: asyncpg.Pool) -> None:
    assert (await client.post(f"{MODELS}/", json=SPEC)).status_code == 201
    r = await client.post(f"{MODELS}/", json=SPEC)
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    r = await client.get(f"{MODELS}/nope")
    assert r.status_code == 404 and "'nope'" in r.json()["detail"]

    semantic = [  # well-formed bodies describing an impossible model → 422 naming the field
        ({**SPEC, "name": "b1", "class_labels": ["a", "b", "c"]}, "class_labels"),
        ({**SPEC, "name": "b2", "class_labels": None}, "class_labels"),
        ({**SPEC, "name": "b3", "threshold": 1.0}, "threshold"),
        ({**SPEC, "name": "b4", "features": [{"name": "x", "kind": "numeric"}, {"name": "x", "kind": "numeric"}]},
         "features[1].name"),
        ({**SPEC, "name": "b5", "features": [{"name": "x", "kind": "numeric", "min_value": 2, "max_value": 1}]},
         "features[0].min_value"),
        ({**SPEC, "name": "b6", "features": [{"name": "x", "kind": "numeric", "categories": ["a"]}]},
         "features[0].categories"),
        ({"name": "b7", "task": "regression", "class_labels": ["a", "b"]}, "class_labels"),
    ]
    for body, fld in semantic:
        r = await client.post(f"{MODELS}/", json=body)
        assert r.status_code == 422, (body, r.text)
        assert fld in [e["field"] for e in r.json()["errors"]], r.json()
    # Bodies that do not match the schema at all are refused by the API edge (400).
    for body in ({**SPEC, "name": "s1", "task": "ranking"}, {**SPEC, "name": "s2", "colour": "red"}, {"task": "binary"}):
        r = await client.post(f"{MODELS}/", json=body)
        assert r.status_code == 400, (body, r.text)
    # Name rules are part of the published schema (a pattern), so they are refused there too, naming the field.
    for body in ({**SPEC, "name": "-bad"}, {**SPEC, "name": "ok", "features": [{"name": "1x", "kind": "numeric"}]}):
        r = await client.post(f"{MODELS}/", json=body)
        assert r.status_code == 400, (body, r.text)
        assert any("name" in (e["field"] or "") for e in r.json()["errors"]), r.json()
    assert await pool.fetchval("SELECT count(*) FROM models") == 1


async def test_versions_promote_archive(client: AsyncTestClient, pool: asyncpg.Pool) -> None:
    assert (await client.post(f"{MODELS}/", json=SPEC)).status_code == 201
    base = f"{MODELS}/fraud/versions"
    r = await client.post(base, json={"version": "1.0.0", "stage": "production", "description": "first"})
    assert r.status_code == 201
    v1 = r.json()
    assert (v1["version"], v1["stage"], v1["description"]) == ("1.0.0", "production", "first")
    assert v1["promoted_at"] is not None and v1["archived_at"] is None
    r = await client.post(base, json={"version": "1.1.0"})
    assert r.status_code == 201 and r.json()["stage"] == "development" and r.json()["promoted_at"] is None

    assert (await client.post(base, json={"version": "1.0.0"})).status_code == 409
    assert (await client.post(base, json={"version": "bad version!"})).status_code == 400
    assert (await client.post(base, json={"version": "2", "stage": "archived"})).status_code == 400
    assert (await client.post(f"{MODELS}/nope/versions", json={"version": "1"})).status_code == 404
    assert (await client.get(f"{base}/9.9")).status_code == 404
    assert (await client.get(f"{MODELS}/nope/versions")).status_code == 404

    r = await client.get(base)
    assert [(v["version"], v["stage"]) for v in r.json()] == [("1.0.0", "production"), ("1.1.0", "development")]
    assert (await client.get(f"{base}/1.1.0")).json()["stage"] == "development"

    async def stages() -> dict[str, str]:
        rows = await pool.fetch("SELECT version, stage FROM model_versions")
        return {r["version"]: r["stage"] for r in rows}

    # Promote: one production version; the previous one goes to staging.
    r = await client.post(f"{base}/1.1.0/promote", headers=JSON_H)
    assert r.status_code == 200 and r.json()["stage"] == "production"
    assert await stages() == {"1.0.0": "staging", "1.1.0": "production"}
    r = await client.post(f"{base}/1.0.0/promote", json={"stage": "production"})
    assert await stages() == {"1.0.0": "production", "1.1.0": "staging"}
    # A third version created directly in production demotes the current one too.
    await client.post(base, json={"version": "2.0.0", "stage": "production"})
    assert await stages() == {"1.0.0": "staging", "1.1.0": "staging", "2.0.0": "production"}
    assert (await client.post(f"{base}/9.9/promote", headers=JSON_H)).status_code == 404
    assert (await client.post(f"{base}/1.0.0/promote", json={"stage": "archived"})).status_code == 400

    # Archive; an archived version cannot go straight back to production.
    r = await client.post(f"{base}/2.0.0/archive", headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["stage"] == "archived" and r.json()["archived_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM model_versions WHERE stage = 'production'") == 0
    r = await client.post(f"{base}/2.0.0/promote", headers=JSON_H)
    assert r.status_code == 409 and "archived" in r.json()["detail"]
    assert (await stages())["2.0.0"] == "archived"
    r = await client.post(f"{base}/2.0.0/promote", json={"stage": "staging"})
    assert r.status_code == 200 and r.json()["stage"] == "staging" and r.json()["archived_at"] is None
    assert (await client.post(f"{base}/2.0.0/promote", headers=JSON_H)).json()["stage"] == "production"
    assert await pool.fetchval("SELECT count(*) FROM model_versions WHERE stage = 'production'") == 1
