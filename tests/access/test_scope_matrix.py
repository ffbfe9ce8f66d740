"""Every operation of the app × every kind of caller → the expected 2xx / 401 / 403.

The routes are enumerated from the app itself, so a route added later is in the matrix without anyone
adding it here; the expectation is the rule of api/auth.py, stated again independently: GET/HEAD need
`read`, POST/PUT/PATCH/DELETE need `admin`, except the ingest operations listed below (the only ones an
ingest key may call). "Allowed" is any answer that is not 401/403/429 and not a 5xx: the matrix probes
authorization with placeholder parameters (a handler may well answer 404 or 422 to them); real 2xx answers
per scope are checked in test_keys.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from api.app import create_app
from tests.access.support import ENV_KEY, Keys, access_settings, issue_keys
from tests.ingest.support import register_all

# The operations an ingest key may call, written out (not read from the handlers' opt).
INGEST_OPERATIONS = {
    ("POST", "/api/v1/models/{name:str}/predictions"),
    ("POST", "/api/v1/models/{name:str}/labels"),
    ("POST", "/api/v1/metrics"),
    ("POST", "/api/v1/models/{name:str}/batch-performance"),
}
# Read-scoped operations that are nonetheless admin-only (key management).
ADMIN_READS = {("GET", "/api/v1/admin/keys")}
PUBLIC_PREFIXES = ("/health", "/schema")
CALLERS = ("none", "bad", "revoked", "read", "ingest", "admin", "env", "limited", "limited_other")


def operations(app: Litestar) -> Iterator[tuple[str, str, HTTPRoute]]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method in sorted(route.route_handler_map):
            if method != "OPTIONS":
                yield method, route.path, route


def needed_scope(method: str, path: str) -> str | None:
    if path.startswith(PUBLIC_PREFIXES):
        return None
    if (method, path) in INGEST_OPERATIONS:
        return "ingest"
    if (method, path) in ADMIN_READS:
        return "admin"
    return "read" if method in ("GET", "HEAD") else "admin"


def takes_model_query(route: HTTPRoute, method: str) -> bool:
    handler = route.route_handler_map[method][0]
    return "model" in handler.parsed_fn_signature.parameters


def expected(caller: str, scope: str | None, model_scoped: bool) -> str:
    """'ok' (anything but 401/403/429/5xx), '401' or '403'."""
    if scope is None:
        return "ok"
    if caller in ("none", "bad", "revoked"):
        return "401"
    if caller in ("admin", "env"):
        return "ok"
    if caller in ("read", "ingest"):
        return "ok" if scope == caller else "403"
    # limited: read + ingest on one model
    if scope == "admin" or not model_scoped:
        return "403"
    return "ok" if caller == "limited" else "403"


def url(route: HTTPRoute, model: str) -> str:
    path = route.path
    for name, param in route.path_parameters.items():
        value = model if name == "name" else ("1" if param.type is int else "x")
        path = path.replace("{" + param.full + "}", value)
    return path


def headers(caller: str, keys: Keys) -> dict[str, str]:
    token = {"bad": "dl_0123456789ab_" + "A" * 43, "revoked": keys.revoked, "read": keys.read,
             "ingest": keys.ingest, "admin": keys.admin, "env": ENV_KEY, "limited": keys.limited,
             "limited_other": keys.limited}.get(caller)
    if token is None:
        return {}
    # both headers are accepted: alternate them over the matrix
    return {"Authorization": f"Bearer {token}"} if caller in ("read", "limited") else {"X-API-Key": token}


async def test_every_operation_for_every_caller(db_url: str, pool: asyncpg.Pool) -> None:
    models = await register_all(pool)
    mine, other = sorted(models)[:2]
    keys = await issue_keys(pool, limited_to=mine)
    app = create_app(access_settings(db_url))
    failures: list[str] = []
    n = 0
    seen: Counter[str] = Counter()
    async with AsyncTestClient(app=app) as client:
        for method, path, route in operations(app):
            scope = needed_scope(method, path)
            model_scoped = "name" in route.path_parameters or takes_model_query(route, method)
            for caller in CALLERS:
                model = other if caller == "limited_other" else mine
                params: dict[str, Any] = {"model": model} if takes_model_query(route, method) else {}
                body: dict[str, Any] = {"content": b"{}", "headers": {**headers(caller, keys),
                                                                      "content-type": "application/json"}}
                if method in ("GET", "HEAD", "DELETE"):
                    body = {"headers": headers(caller, keys)}
                r = await client.request(method, url(route, model), params=params, **body)
                n += 1
                want = expected(caller, scope, model_scoped)
                got = r.status_code
                seen[f"{want}:{got // 100}xx"] += 1
                ok = (got not in (401, 403, 429) and got < 500) if want == "ok" else got == int(want)
                if not ok:
                    failures.append(f"{method} {path} as {caller}: want {want}, got {got} {r.text[:160]}")
                if got == 401:
                    assert "bearer" in r.headers.get("www-authenticate", "").lower()
    assert n > 300
    # the matrix holds every kind of answer, real successes among the allowed ones
    assert seen["401:4xx"] > 50 and seen["403:4xx"] > 50 and seen["ok:2xx"] > 50, seen
    assert not failures, "\n".join(failures)


def test_derived_scope_covers_routes_added_later() -> None:
    """A controller another helper adds, with no access annotation at all: GET is read, the rest admin."""
    from litestar import Controller, delete, get, post

    from api.auth import required_scope

    class Later(Controller):
        path = "/api/v1/later"

        @get("/")
        async def read_it(self) -> None: ...

        @post("/")
        async def write_it(self) -> None: ...

        @delete("/{x:str}")
        async def drop_it(self, x: str) -> None: ...

        @post("/run", opt={"scope": "ingest"})
        async def run_it(self) -> None: ...

    app = Litestar([Later])
    scopes = {(m, r.path): required_scope(m, r.route_handler_map[m][0])
              for r in app.routes if isinstance(r, HTTPRoute) for m in r.route_handler_map}
    assert scopes[("GET", "/api/v1/later")] == "read"
    assert scopes[("POST", "/api/v1/later")] == "admin"
    assert scopes[("DELETE", "/api/v1/later/{x:str}")] == "admin"
    assert scopes[("POST", "/api/v1/later/run")] == "ingest"
    assert scopes[("OPTIONS", "/api/v1/later")] is None


@pytest.mark.parametrize("caller", ["read", "ingest"])
async def test_a_route_added_after_start_is_guarded(db_url: str, pool: asyncpg.Pool, caller: str) -> None:
    from litestar import get, post

    keys = await issue_keys(pool, limited_to="nothing")
    app = create_app(access_settings(db_url))

    @post("/api/v1/added-later", status_code=200)
    async def added_later() -> dict[str, str]:
        return {"ok": "yes"}

    @get("/api/v1/public-later", opt={"scope": None})
    async def public_later() -> dict[str, str]:
        return {"ok": "yes"}

    app.register(added_later)
    app.register(public_later)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/api/v1/public-later")).status_code == 200  # declared public: no key needed
        assert (await client.get("/api/v1/models/")).status_code == 401
        token = keys.read if caller == "read" else keys.ingest
        r = await client.post("/api/v1/added-later", headers={"X-API-Key": token, "content-type": "application/json"})
        assert r.status_code == 403, r.text
        r = await client.post("/api/v1/added-later", headers={"X-API-Key": keys.admin,
                                                              "content-type": "application/json"})
        assert r.status_code == 200, r.text
