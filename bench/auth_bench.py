"""Access-control overhead per request: what authenticating a key, deriving its scope and counting its
ingest rate in PostgreSQL add to a request.

Not a test. Three `uvicorn --workers 1` servers (separate processes) on one fresh migrated database:

  open    DRIFTLINE_AUTH=open: no key checked, no query (the baseline)
  auto    the default mode; first with no key in the database (each keyless request asks whether a key
          exists: one indexed query), then with keys (lookup by prefix + HMAC + constant-time compare; for
          ingest one rate-counter upsert)
  env     DRIFTLINE_API_KEY set, ingest rate limit off (the shared key is a constant-time compare, no query)

A sequential keep-alive client sends, in interleaved rounds (so load drift hits every scenario alike), a
cheap read (GET /api/v1/models/{name}) and a one-row ingest (POST predictions). Then the service calls
alone, on one connection: KeyService.authenticate, RateLimiter.hit, KeyService.any_exists.

    .venv/bin/python bench/auth_bench.py                 # writes bench/results/auth.md
    .venv/bin/python bench/auth_bench.py --rounds 4 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402

from engine.config import DEFAULT_DATABASE_URL, RateLimit  # noqa: E402
from engine.domain import NewFeature, NewModel  # noqa: E402
from engine.services.access.keys import KeyService  # noqa: E402
from engine.services.access.ratelimit import RateLimiter  # noqa: E402
from engine.services.access.secret import ServerSecret  # noqa: E402
from engine.services.models import ModelService  # noqa: E402
from engine.store.unit import UnitOfWork  # noqa: E402

SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
ENV_KEY = "bench-env-key-0123456789abcdef"
MODEL = "bench"


def _with_db(url: str, name: str) -> str:
    return url.rpartition("/")[0] + "/" + name


async def make_database(cluster: str) -> str:
    name = f"dl_bench_auth_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(_with_db(cluster, "postgres"))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    url = _with_db(cluster, name)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    await asyncio.to_thread(command.upgrade, cfg, "head")
    conn = await asyncpg.connect(url)
    try:
        models = ModelService(UnitOfWork(conn))
        await models.create_model(NewModel(name=MODEL, task="regression", features=[NewFeature("x", "numeric")]))
        await models.create_version(MODEL, "v1", "production")
    finally:
        await conn.close()
    return url


async def drop_database(cluster: str, url: str) -> None:
    conn = await asyncpg.connect(_with_db(cluster, "postgres"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {url.rpartition('/')[2]} WITH (FORCE)")
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(url: str, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    full = {**os.environ, "DRIFTLINE_DATABASE_URL": url, "DRIFTLINE_SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT),
            **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=full)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        try:
            if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("uvicorn did not become ready")


class Scenario:
    def __init__(self, name: str, client: httpx.Client, call: Callable[[httpx.Client, int], httpx.Response]) -> None:
        self.name, self.client, self.call = name, client, call
        self.ms: list[float] = []
        self.n = 0

    def run(self, count: int, record: bool = True) -> None:
        for _ in range(count):
            self.n += 1
            t0 = time.perf_counter()
            r = self.call(self.client, self.n)
            dt = (time.perf_counter() - t0) * 1000
            if r.status_code >= 300:
                raise RuntimeError(f"{self.name}: {r.status_code} {r.text[:200]}")
            if record:
                self.ms.append(dt)


def read(headers: dict[str, str]) -> Callable[[httpx.Client, int], httpx.Response]:
    return lambda c, _: c.get(f"/api/v1/models/{MODEL}", headers=headers)


def ingest(headers: dict[str, str], tag: str) -> Callable[[httpx.Client, int], httpx.Response]:
    def go(c: httpx.Client, n: int) -> httpx.Response:
        row = {"prediction_id": f"{tag}-{n}", "time": "2026-03-01T00:00:00Z", "prediction": 1.0, "features": {"x": 1.0}}
        return c.post(f"/api/v1/models/{MODEL}/predictions", json=[row], headers=headers)
    return go


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 100 else max(values)


async def service_costs(url: str, n: int) -> dict[str, float]:
    """Median µs of each access-control call alone, on one connection."""
    secret = ServerSecret.of(SECRET, "bench")
    conn = await asyncpg.connect(url)
    out: dict[str, float] = {}
    try:
        uow = UnitOfWork(conn)
        token = (await KeyService(uow).create(secret, "svc-bench", ["read"])).token
        rate = RateLimit(10**9, 60)
        calls = {
            "KeyService.authenticate (prefix lookup + HMAC + compare_digest)":
                lambda: KeyService(uow).authenticate(token, secret),
            "RateLimiter.hit (one upsert)": lambda: RateLimiter(uow).hit("bench", rate),
            "KeyService.any_exists (auto mode, keyless request)": lambda: KeyService(uow).any_exists(),
        }
        for name, call in calls.items():
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                await call()
                times.append((time.perf_counter() - t0) * 1e6)
            out[name] = statistics.median(times)
    finally:
        await conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=50)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    cluster = os.environ.get("DRIFTLINE_DATABASE_URL") or DEFAULT_DATABASE_URL
    url = asyncio.run(make_database(cluster))
    load_before = os.getloadavg()[0]
    servers = {
        "open": start_server(url, DRIFTLINE_AUTH="open"),
        "auto": start_server(url, DRIFTLINE_AUTH="auto", DRIFTLINE_RATE_INGEST="1000000000/60"),
        "env": start_server(url, DRIFTLINE_API_KEY=ENV_KEY, DRIFTLINE_RATE_INGEST="off"),
    }
    clients = {k: httpx.Client(base_url=base, timeout=30) for k, (_, base) in servers.items()}
    try:
        keyless = [Scenario("open: read, no key", clients["open"], read({})),
                   Scenario("auto, no key exists: read (asks whether one exists)", clients["auto"], read({}))]
        for s in keyless:
            s.run(args.per_round, record=False)
        for _ in range(args.rounds):
            for s in keyless:
                s.run(args.per_round)

        async def issue() -> tuple[str, str]:
            conn = await asyncpg.connect(url)
            try:
                svc = KeyService(UnitOfWork(conn))
                secret = ServerSecret.of(SECRET, "bench")
                return ((await svc.create(secret, "reader", ["read"])).token,
                        (await svc.create(secret, "pipeline", ["ingest"])).token)
            finally:
                await conn.close()

        read_key, ingest_key = asyncio.run(issue())
        keyed = [
            Scenario("open: read, no key", clients["open"], read({})),
            Scenario("env: read, DRIFTLINE_API_KEY", clients["env"], read({"X-API-Key": ENV_KEY})),
            Scenario("auto: read, stored key", clients["auto"], read({"X-API-Key": read_key})),
            Scenario("open: ingest 1 row, no key", clients["open"], ingest({}, "o")),
            Scenario("env: ingest 1 row, stored key, rate limit off", clients["env"], ingest({"X-API-Key": ingest_key}, "e")),
            Scenario("auto: ingest 1 row, stored key + rate counter", clients["auto"], ingest({"X-API-Key": ingest_key}, "a")),
        ]
        for s in keyed:
            s.run(args.per_round, record=False)
        for _ in range(args.rounds):
            for s in keyed:
                s.run(args.per_round)
        costs = asyncio.run(service_costs(url, args.rounds * args.per_round))
    finally:
        for c in clients.values():
            c.close()
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    load_after = os.getloadavg()[0]
    asyncio.run(drop_database(cluster, url))
    results = [*keyless, *keyed[1:]]
    lines = [
        "# Access-control overhead",
        "",
        f"`bench/auth_bench.py --rounds {args.rounds} --per-round {args.per_round}`, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"1-minute load average {load_before:.1f} before and {load_after:.1f} after (the host is shared).",
        "",
        "Sequential keep-alive requests to `uvicorn --workers 1` processes on one database; interleaved rounds.",
        "",
        "| scenario | requests | median ms | p95 ms | median − baseline ms |",
        "|---|---:|---:|---:|---:|",
    ]
    base_read = statistics.median(keyed[0].ms)
    base_ingest = statistics.median(keyed[3].ms)
    for s in results:
        base = base_ingest if "ingest" in s.name else base_read
        if s in keyless:
            base = statistics.median(keyless[0].ms)
        lines.append(f"| {s.name} | {len(s.ms)} | {statistics.median(s.ms):.2f} | {pct(s.ms, 95):.2f} | "
                     f"{statistics.median(s.ms) - base:+.2f} |")
    lines += ["", "Service calls alone, one connection (median µs):", "", "| call | µs |", "|---|---:|"]
    lines += [f"| {name} | {us:.0f} |" for name, us in costs.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        out = ROOT / "bench" / "results" / "auth.md"
        notes = ""
        if out.exists() and "<!-- notes -->" in out.read_text():
            notes = out.read_text().split("<!-- notes -->", 1)[1]
        out.write_text(text + ("\n<!-- notes -->" + notes if notes else ""))


if __name__ == "__main__":
    main()
