"""API keys end to end: each scope's own operations answer 2xx, the admin endpoints issue / list / revoke,
the CLI does the same on the database, last use is recorded (at most once a minute), comparisons are
constant-time, the server secret is generated safely, and the open / required modes behave as documented."""

from __future__ import annotations

import hmac
import json
import os
import stat
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from engine.config import AccessSettings, Settings
from engine.services.access import tokens
from engine.services.access.keys import KeyService
from engine.services.access.secret import load_secret
from engine.store.unit import unit_from_pool
from tests.access.support import ENV_KEY, SECRET, access_settings, issue_keys, server_secret
from tests.cli.helpers import driftline
from tests.ingest.support import good_binary_row, register_all

JSON = {"content-type": "application/json"}


async def test_each_scope_gets_2xx_on_its_own_operations(db_url: str, pool: asyncpg.Pool) -> None:
    await register_all(pool)
    keys = await issue_keys(pool, limited_to="churn")
    async with AsyncTestClient(app=create_app(access_settings(db_url))) as c:
        ingest = {"X-API-Key": keys.ingest, **JSON}
        r = await c.post("/api/v1/models/churn/predictions", json=[good_binary_row(0)], headers=ingest)
        assert r.status_code == 201, r.text
        r = await c.post("/api/v1/models/churn/labels", json=[{"prediction_id": "g-0", "label": "churn"}], headers=ingest)
        assert r.status_code == 201, r.text
        r = await c.post("/api/v1/metrics", params={"model": "churn"}, headers=ingest,
                         json=[{"time": "2026-03-01T00:00:00Z", "name": "cost", "value": 1.5}])
        assert r.status_code == 201, r.text
        assert (await c.get("/api/v1/models/", headers=ingest)).status_code == 403  # ingest cannot read

        reader = {"Authorization": f"Bearer {keys.read}"}
        r = await c.get("/api/v1/models/", headers=reader)
        assert r.status_code == 200 and {m["name"] for m in r.json()} == {"churn", "iris", "price"}
        assert (await c.get("/api/v1/models/churn", headers=reader)).status_code == 200
        r = await c.post("/api/v1/models/churn/predictions", json=[good_binary_row(1)], headers={**reader, **JSON})
        assert r.status_code == 403 and "'ingest' scope" in r.json()["detail"]

        limited = {"X-API-Key": keys.limited, **JSON}
        r = await c.post("/api/v1/models/churn/predictions", json=[good_binary_row(2)], headers=limited)
        assert r.status_code == 201, r.text
        assert (await c.get("/api/v1/models/churn", headers=limited)).status_code == 200
        r = await c.get("/api/v1/models/iris", headers=limited)
        assert r.status_code == 403 and "'iris'" in r.json()["detail"]
        assert (await c.get("/api/v1/models/", headers=limited)).status_code == 403  # lists every model
        assert (await c.get("/api/v1/metrics", params={"model": "churn"}, headers=limited)).status_code == 200
        assert (await c.get("/api/v1/metrics", params={"model": "iris"}, headers=limited)).status_code == 403
        assert (await c.get("/api/v1/metrics", headers=limited)).status_code == 403

        admin = {"X-API-Key": keys.admin, **JSON}
        r = await c.post("/api/v1/models/churn/versions", json={"version": "v9"}, headers=admin)
        assert r.status_code == 201, r.text
        r = await c.post("/api/v1/models/churn/versions", json={"version": "v8"}, headers={"X-API-Key": ENV_KEY, **JSON})
        assert r.status_code == 201, r.text


async def test_admin_endpoints_issue_list_and_revoke(db_url: str, pool: asyncpg.Pool) -> None:
    keys = await issue_keys(pool, limited_to="churn")
    async with AsyncTestClient(app=create_app(access_settings(db_url))) as c:
        admin = {"X-API-Key": keys.admin, **JSON}
        r = await c.post("/api/v1/admin/keys", headers=admin,
                         json={"name": "svc", "scopes": ["read"], "models": ["churn"], "comment": "dashboards"})
        assert r.status_code == 201, r.text
        issued = r.json()
        token = issued["token"]
        assert token.startswith("dl_") and issued["key"]["prefix"] == token[3:15]
        assert issued["key"]["created_by"] == "api:ops" and issued["key"]["models"] == ["churn"]
        assert (await c.get("/api/v1/models/churn", headers={"X-API-Key": token})).status_code in (200, 404)

        listed = (await c.get("/api/v1/admin/keys", headers=admin)).json()
        assert {k["name"] for k in listed} == {"reader", "pipeline", "ops", "old", "team-a", "svc"}
        assert all("token" not in k and "hmac" not in k for k in listed)
        active = (await c.get("/api/v1/admin/keys", params={"include_revoked": "false"}, headers=admin)).json()
        assert "old" not in {k["name"] for k in active}
        # reading keys is admin-only, though it is a GET
        assert (await c.get("/api/v1/admin/keys", headers={"X-API-Key": keys.read})).status_code == 403

        r = await c.delete(f"/api/v1/admin/keys/{issued['key']['prefix']}", headers=admin)
        assert r.status_code == 200 and r.json()["revoked_at"] is not None
        r = await c.get("/api/v1/models/churn", headers={"X-API-Key": token})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")

        bad = await c.post("/api/v1/admin/keys", headers=admin, json={"name": "x", "scopes": ["write"]})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "scopes"
        assert (await c.delete("/api/v1/admin/keys/999999", headers=admin)).status_code == 404


async def test_last_use_is_recorded_at_most_once_a_minute(db_url: str, pool: asyncpg.Pool) -> None:
    keys = await issue_keys(pool, limited_to="churn")

    async def last_used() -> object:
        return await pool.fetchval("SELECT last_used_at FROM api_keys WHERE name = 'reader'")

    assert await last_used() is None
    async with AsyncTestClient(app=create_app(access_settings(db_url))) as c:
        assert (await c.get("/api/v1/models/", headers={"X-API-Key": keys.read})).status_code == 200
        first = await last_used()
        assert first is not None
        assert (await c.get("/api/v1/models/", headers={"X-API-Key": keys.read})).status_code == 200
        assert await last_used() == first  # within the minute: not written again
        await pool.execute("UPDATE api_keys SET last_used_at = last_used_at - interval '2 minutes' WHERE name = 'reader'")
        assert (await c.get("/api/v1/models/", headers={"X-API-Key": keys.read})).status_code == 200
        assert await last_used() > first  # type: ignore[operator]


async def test_stored_digest_is_the_hmac_and_compared_in_constant_time(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = server_secret()
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    async with unit_from_pool(pool) as uow:
        issued = await KeyService(uow).create(secret, "k", ["read"])
        stored = await pool.fetchval("SELECT hmac FROM api_keys WHERE id = $1", issued.key.id)
        # independent reference: HMAC-SHA256 of the whole token under the secret; the token itself is nowhere
        assert bytes(stored) == hmac.new(SECRET.encode(), issued.token.encode(), "sha256").digest()
        row = await pool.fetchrow("SELECT * FROM api_keys WHERE id = $1", issued.key.id)
        assert issued.token not in json.dumps({k: str(v) for k, v in dict(row).items()})
        principal = await KeyService(uow).authenticate(issued.token, secret)
        assert getattr(principal, "scopes", None) == frozenset({"read"})
        wrong = issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")
        assert not hasattr(await KeyService(uow).authenticate(wrong, secret), "scopes")
    assert len(calls) == 2 and all(len(a) == len(b) == 32 for a, b in calls)


async def test_env_key_is_compared_in_constant_time(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest
    monkeypatch.setattr(tokens.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    async with AsyncTestClient(app=create_app(access_settings(db_url))) as c:
        assert (await c.get("/api/v1/models/", headers={"X-API-Key": ENV_KEY})).status_code == 200
    assert calls == [(ENV_KEY.encode(), ENV_KEY.encode())]


def test_keys_cli_round_trip(db_url: str, tmp_path: Path) -> None:
    os.environ.pop("DRIFTLINE_SECRET_KEY", None)
    home = tmp_path / "home"
    env = {"DRIFTLINE_HOME": str(home)}
    created = driftline(db_url, "keys", "create", "--name", "etl", "--scope", "ingest", "--scope", "read",
                        "--model", "churn", "--json", env=env)
    assert created.returncode == 0, created.stderr
    out = json.loads(created.stdout)
    token, key = out["token"], out["key"]
    assert key["scopes"] == ["ingest", "read"] and key["models"] == ["churn"] and key["revoked_at"] is None
    # the secret was generated under DRIFTLINE_HOME, readable by its owner only
    secret_file = home / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    second = driftline(db_url, "keys", "create", "--name", "ops", "--scope", "admin", env=env)
    assert second.returncode == 0 and second.stdout.strip().startswith("dl_")
    assert "shown this once" in second.stderr

    listed = driftline(db_url, "keys", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows] == ["etl", "ops"] and token not in listed.stdout
    table = driftline(db_url, "keys", "list", env=env)
    assert "etl" in table.stdout and key["prefix"] in table.stdout

    # the API, with the same secret file, accepts the CLI's key; revoked by the CLI, it is refused
    settings = Settings(database_url=db_url, access=AccessSettings(secret_key_file=str(secret_file)))
    assert load_secret(settings.access) is not None

    async def call() -> int:
        async with AsyncTestClient(app=create_app(settings)) as c:
            return (await c.get("/api/v1/models/", params={"model": "churn"},
                                headers={"Authorization": f"Bearer {token}"})).status_code

    import asyncio

    assert asyncio.run(call()) == 403  # read, but listing every model is not for a model-limited key
    revoked = driftline(db_url, "keys", "revoke", key["prefix"], env=env)
    assert revoked.returncode == 0 and "revoked key" in revoked.stdout
    assert asyncio.run(call()) == 401
    assert driftline(db_url, "keys", "revoke", "0123456789ab", env=env).returncode == 3
    assert driftline(db_url, "keys", "create", "--name", "x", "--scope", "root", env=env).returncode == 2


def test_keys_cli_refuses_without_a_secret(db_url: str) -> None:
    r = driftline(db_url, "keys", "create", "--name", "etl", "--scope", "read",
                  env={"DRIFTLINE_HOME": "", "DRIFTLINE_SECRET_KEY": ""})
    assert r.returncode == 2 and "DRIFTLINE_SECRET_KEY" in r.stderr


async def test_modes(db_url: str, pool: asyncpg.Pool) -> None:
    """auto: open while nothing is configured, enforced once any key exists (revoked ones too);
    required: enforced with no key at all; open: no key needed, a presented key is still checked."""
    async def status(settings: Settings, headers: dict[str, str] | None = None) -> int:
        async with AsyncTestClient(app=create_app(settings)) as c:
            return (await c.get("/api/v1/models/", headers=headers or {})).status_code

    auto = access_settings(db_url, api_key=None)
    assert await status(auto) == 200
    assert await status(access_settings(db_url, api_key=None, mode="required")) == 401
    assert await status(access_settings(db_url, api_key=None, mode="open")) == 200
    assert await status(access_settings(db_url, api_key=None, mode="open"), {"X-API-Key": "nope"}) == 401
    async with unit_from_pool(pool) as uow:
        issued = await KeyService(uow).create(server_secret(), "only", ["admin"])
        await KeyService(uow).revoke(str(issued.key.id))
    assert await status(auto) == 401  # the only key is revoked: still enforced
    assert await status(access_settings(db_url, api_key=None, mode="open")) == 200
    async with AsyncTestClient(app=create_app(auto)) as c:  # health and the schema stay open
        assert (await c.get("/health/live")).status_code == 200
        assert (await c.get("/schema/openapi.json")).status_code == 200


async def test_openapi_declares_the_security_schemes(db_url: str) -> None:
    async with AsyncTestClient(app=create_app(access_settings(db_url))) as client:
        doc = (await client.get("/schema/openapi.json")).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {"type": "apiKey", "name": "X-API-Key", "in": "header",
                                       "description": schemes["ApiKeyHeader"]["description"]}
    assert schemes["BearerToken"]["scheme"] == "bearer"
    assert {"ApiKeyHeader": []} in doc["security"]
    op = doc["paths"]["/api/v1/models/{name}/predictions"]["post"]
    assert {"401", "403", "429"} <= set(op["responses"])


async def test_a_server_with_another_secret_refuses_keys(db_url: str, pool: asyncpg.Pool,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    keys = await issue_keys(pool, limited_to="churn")
    other = Settings(database_url=db_url, access=AccessSettings(secret_key="another-secret-" + "z" * 32))
    async with AsyncTestClient(app=create_app(other)) as c:
        r = await c.get("/api/v1/models/", headers={"X-API-Key": keys.admin})
        assert r.status_code == 401 and r.json()["detail"] == "invalid or revoked API key"
    # the server log says why (Litestar's logging config writes it to stderr)
    assert "was hashed with another server secret" in capfd.readouterr().err
