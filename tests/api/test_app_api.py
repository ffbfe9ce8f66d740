"""Health and readiness, the OpenAPI document, API-key enforcement and the body size limit."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import app_from_env, create_app
from engine.config import Settings
from tests.conftest import create_database, drop_database
from tests.ingest.support import good_binary_row


async def test_health(client: AsyncTestClient, pool: asyncpg.Pool) -> None:
    r = await client.get("/health/live")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = await client.get("/health/ready")
    assert r.status_code == 200
    body = r.json()
    head = await pool.fetchval("SELECT version_num FROM alembic_version")
    assert body["status"] == "ok" and body["database"] == f"migrated ({head})"
    assert body["timescaledb_version"] == await pool.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    assert body["timescaledb_license"] == (await pool.fetchval("SELECT current_setting('timescaledb.license', true)") or "apache")


async def test_ready_reports_unmigrated_and_missing_extension(cluster_url: str) -> None:
    name = f"driftline_t_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name)
    try:
        async with AsyncTestClient(app=create_app(Settings(database_url=url))) as c:
            r = await c.get("/health/ready")
            assert r.status_code == 503 and r.json()["status"] == "unavailable"
            assert "timescaledb extension is not installed" in r.json()["database"]
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("CREATE EXTENSION timescaledb")
            finally:
                await conn.close()
            r = await c.get("/health/ready")
            assert (r.status_code, r.json()["database"]) == (503, "schema not migrated")
            assert (await c.get("/health/live")).status_code == 200
    finally:
        await drop_database(cluster_url, name)


async def test_openapi_lists_every_endpoint(client: AsyncTestClient) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = {p: set(ops) for p, ops in doc["paths"].items()}
    expected = {
        "/health/live": {"get"},
        "/health/ready": {"get"},
        "/api/v1/models": {"get", "post"},
        "/api/v1/models/{name}": {"get"},
        "/api/v1/models/{name}/versions": {"get", "post"},
        "/api/v1/models/{name}/versions/{version}": {"get"},
        "/api/v1/models/{name}/versions/{version}/promote": {"post"},
        "/api/v1/models/{name}/versions/{version}/archive": {"post"},
        "/api/v1/models/{name}/predictions": {"post"},
        "/api/v1/models/{name}/labels": {"post"},
        "/api/v1/metrics": {"post"},
        "/api/v1/rejected": {"get"},
    }
    for path, ops in expected.items():
        assert path in paths, (path, sorted(paths))
        assert ops <= paths[path], (path, paths[path])
    params = {p["name"] for p in doc["paths"]["/api/v1/models/{name}/predictions"]["post"]["parameters"]}
    assert {"Idempotency-Key", "partial", "version", "segment_columns"} <= params


async def test_api_key_enforced(db_url: str) -> None:
    app = create_app(Settings(database_url=db_url, api_key="s3cret"))
    async with AsyncTestClient(app=app) as c:
        assert (await c.get("/health/live")).status_code == 200
        assert (await c.get("/health/ready")).status_code == 200
        assert (await c.get("/schema/openapi.json")).status_code == 200
        for headers in ({}, {"X-API-Key": "wrong"}):
            r = await c.get("/api/v1/models/", headers=headers)
            assert r.status_code == 401, r.text
            r = await c.post("/api/v1/models/", json={"name": "m", "task": "regression"}, headers=headers)
            assert r.status_code == 401
        r = await c.post("/api/v1/models/", json={"name": "m", "task": "regression"}, headers={"X-API-Key": "s3cret"})
        assert r.status_code == 201
        assert (await c.get("/api/v1/models/", headers={"X-API-Key": "s3cret"})).json()[0]["name"] == "m"
    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM models") == 1
    finally:
        await conn.close()


async def test_body_size_limit(db_url: str, pool: asyncpg.Pool) -> None:
    from tests.ingest.support import register_all

    await register_all(pool)
    app = create_app(Settings(database_url=db_url, max_body_bytes=2000))
    async with AsyncTestClient(app=app) as c:
        small = [good_binary_row(k) for k in range(2)]
        assert (await c.post("/api/v1/models/churn/predictions", json=small)).status_code == 201
        big = [good_binary_row(k) for k in range(100, 130)]
        r = await c.post("/api/v1/models/churn/predictions", json=big)
        assert r.status_code == 413
    assert await pool.fetchval("SELECT count(*) FROM predictions") == 2


async def test_served_app_freezes_long_lived_objects(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The served process's app (the uvicorn factory behind `driftline serve`) moves what lives as long as
    the process out of the cyclic GC's reach once started (gc.freeze), so per-request garbage collections
    stay cheap; `create_app` alone (what tests build by the dozen) freezes nothing."""
    import gc

    gc.unfreeze()
    async with AsyncTestClient(app=create_app(Settings(database_url=db_url))) as c:
        assert (await c.get("/health/live")).status_code == 200
        assert gc.get_freeze_count() == 0
    monkeypatch.setenv("DRIFTLINE_DATABASE_URL", db_url)
    try:
        async with AsyncTestClient(app=app_from_env()) as c:
            assert gc.get_freeze_count() > 1000
            assert (await c.get("/health/live")).status_code == 200
    finally:
        gc.unfreeze()  # the frozen objects belong to this test, not to the rest of the session
