"""Rate limits hold across API processes: two `driftline serve` servers on one database (the first with two
uvicorn workers), requests spread over them, one count. 429 carries Retry-After."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

from engine.services.access.keys import KeyService
from engine.store.unit import unit_from_pool
from tests.access.support import SECRET, server_secret
from tests.ingest.support import good_binary_row, register_all
from tests.sdk.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
WINDOW = 3600


@contextlib.contextmanager
def serve(db_url: str, workers: int, **env: str) -> Iterator[str]:
    """`driftline serve` as a process of its own (this checkout's code), until the block ends."""
    port = free_port()
    full_env = {**os.environ, "DRIFTLINE_DATABASE_URL": db_url, "DRIFTLINE_SECRET_KEY": SECRET,
                "DRIFTLINE_POOL_MIN": "1", "DRIFTLINE_POOL_MAX": "3", "PYTHONPATH": str(ROOT), **env}
    full_env.pop("DRIFTLINE_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "serve", "--port", str(port), "--workers",
                             str(workers), "--log-level", "warning"], cwd=ROOT, env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a busy 2-core host: ~15 s of imports per process
        while True:
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _away_from_window_end(pool: asyncpg.Pool) -> None:
    """The counts are per fixed window of the database clock: do not start within a minute of its end."""
    left = await pool.fetchval(f"SELECT {WINDOW} - mod(extract(epoch FROM clock_timestamp())::numeric, {WINDOW})")
    if left < 60:
        time.sleep(float(left) + 1)


def _post(url: str, token: str, k: int) -> httpx.Response:
    # a fresh connection per request, so uvicorn's workers share them out
    return httpx.post(f"{url}/api/v1/models/churn/predictions", json=[good_binary_row(k)],
                      headers={"X-API-Key": token}, timeout=30)


async def test_ingest_limit_per_key_across_processes(db_url: str, pool: asyncpg.Pool) -> None:
    await register_all(pool)
    async with unit_from_pool(pool) as uow:
        first = (await KeyService(uow).create(server_secret(), "first", ["ingest", "read"])).token
        second = (await KeyService(uow).create(server_secret(), "second", ["ingest"])).token
    await _away_from_window_end(pool)
    rate = {"DRIFTLINE_RATE_INGEST": f"5/{WINDOW}", "DRIFTLINE_RATE_FAILED_AUTH": "off"}
    with serve(db_url, 2, **rate) as a, serve(db_url, 1, **rate) as b:
        statuses = [_post((a, b)[k % 2], first, k).status_code for k in range(5)]
        assert statuses == [201] * 5
        for k in range(5, 8):
            r = _post((a, b)[k % 2], first, k)
            assert r.status_code == 429, r.text
            assert 1 <= int(r.headers["retry-after"]) <= WINDOW
            assert "rate limit" in r.json()["detail"]
        # reads are not ingest; another key has a count of its own
        assert httpx.get(f"{a}/api/v1/models/churn", headers={"X-API-Key": first}).status_code == 200
        assert _post(b, second, 100).status_code == 201
    # exactly the accepted batches were stored (five of the first key, from both servers, one of the second)
    assert await pool.fetchval("SELECT count(*) FROM predictions") == 6
    assert await pool.fetchval("SELECT count FROM rate_counters WHERE bucket LIKE 'ingest:key:%' "
                               "ORDER BY count DESC LIMIT 1") == 8


async def test_failed_authentication_limit_per_address_across_processes(db_url: str, pool: asyncpg.Pool) -> None:
    await register_all(pool)
    async with unit_from_pool(pool) as uow:
        good = (await KeyService(uow).create(server_secret(), "good", ["read"])).token
    await _away_from_window_end(pool)
    rate = {"DRIFTLINE_RATE_FAILED_AUTH": f"4/{WINDOW}"}
    with serve(db_url, 2, **rate) as a, serve(db_url, 1, **rate) as b:
        bad = {"X-API-Key": "dl_0123456789ab_" + "x" * 43}
        statuses = [httpx.get(f"{(a, b)[k % 2]}/api/v1/models/", headers=bad).status_code for k in range(4)]
        assert statuses == [401] * 4
        for url in (a, b):
            r = httpx.get(f"{url}/api/v1/models/", headers=bad)
            assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= WINDOW
        # B (one process) answered a 429: it refuses the address for the rest of the window, even a good key
        # (so guessing cannot go on there); a process that has not seen the address over its limit yet still
        # checks keys, each refused one counting on in the shared table
        r = httpx.get(f"{b}/api/v1/models/", headers={"X-API-Key": good})
        assert r.status_code == 429, r.text
        # no key at all is not a failed authentication (and the API is enforced: a key exists)
        assert httpx.get(f"{a}/api/v1/models/").status_code == 401
        # public endpoints stay open to the address
        assert httpx.get(f"{b}/health/live").status_code == 200
