"""Faults during a multi-client SDK stream, with real processes: a PostgreSQL cluster of the test's own
(scripts/cluster.sh, durable defaults, a port of its own), the API as a uvicorn subprocess, and several client
threads, each with its own SDK `Client`, sending batches (each with its idempotency key, reused by the SDK's
retries) while the test

- restarts PostgreSQL (`pg_ctl restart -m fast`),
- kills the API with SIGKILL and starts it again on the same port,
- stops PostgreSQL with `pg_ctl stop -m immediate` (a crash: no checkpoint) and starts it again.

Then every batch must have been acknowledged (the SDK's default retry budget, 28–56 s, outlasts each fault),
and every acknowledged row must be stored exactly once: retried batches whose first answer was lost are
replayed from their key, never written twice."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from engine.sdk import Client
from tests.conftest import ROOT, alembic_config
from tests.faults.processes import ApiProcess, start_api
from tests.ingest.support import T0, good_binary_row, register_all
from tests.sdk.servers import free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
CLIENTS = 4
BATCHES = 30  # per client
ROWS = 40  # per batch
FAULT_AFTER = 24  # acknowledged batches (all clients together) before the fault


@dataclass
class Cluster:
    home: Path
    port: int
    url: str = ""

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DRIFTLINE_HOME": str(self.home), "DRIFTLINE_PG_PORT": str(self.port)}
        env.pop("DRIFTLINE_PG_RELAXED_DURABILITY", None)
        return subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), *args], env=env, capture_output=True,
                              text=True, timeout=180, check=False)

    def pg_ctl(self, *args: str) -> None:
        # -l: a restarted postmaster writes to the cluster's log, not to pipes this process would wait on
        cmd = [str(PG_BIN / "pg_ctl"), "-D", str(self.home / "pg"), "-l", str(self.home / "pg.log"), "-w", "-t", "120",
               *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=180, cwd="/")

    def start(self) -> None:
        started = self.script("start")
        assert started.returncode == 0, started.stderr[-1000:]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"no PostgreSQL binaries at {PG_BIN}")
    home = Path(tmp_path_factory.mktemp("faults"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    c = Cluster(home, free_port())
    started = c.script("start")
    if started.returncode != 0:
        pytest.skip(f"cannot start a cluster of its own on port {c.port}: {started.stderr[-300:]}")
    c.url = started.stdout.strip().splitlines()[-1]
    try:
        assert "synchronous_commit = on" in (home / "pg" / "driftline.conf").read_text()
        from alembic import command

        command.upgrade(alembic_config(c.url), "head")
        asyncio.run(_register(c.url))
        yield c
    finally:
        c.script("destroy")


async def _register(url: str) -> None:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    try:
        await register_all(pool)
    finally:
        await pool.close()


@dataclass
class Stream:
    """CLIENTS threads, each sending BATCHES batches of ROWS rows under its own prefix."""

    url: str
    prefix: str
    acked: list[tuple[str, int, int]] = field(default_factory=list)  # (batch key, written, duplicates)
    failures: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    enough: threading.Event = field(default_factory=threading.Event)

    def rows(self, client: int, batch: int) -> list[dict[str, object]]:
        return [dict(good_binary_row(k, T0 + timedelta(hours=1)), prediction_id=f"{self.prefix}-{client}-{batch}-{k}")
                for k in range(ROWS)]

    def run_client(self, client: int) -> None:
        try:
            with Client(self.url, timeout=30) as dl:
                for batch in range(BATCHES):
                    key = f"{self.prefix}-{client}-{batch}"
                    summary = dl.log_predictions("churn", self.rows(client, batch), idempotency_key=key)
                    with self.lock:
                        self.acked.append((key, summary.written, summary.duplicates))
                        if len(self.acked) >= FAULT_AFTER:
                            self.enough.set()
        except BaseException as exc:  # reported by the test
            with self.lock:
                self.failures.append(exc)
            self.enough.set()

    def run(self, fault: Callable[[], None]) -> float:
        threads = [threading.Thread(target=self.run_client, args=(c,), daemon=True) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        assert self.enough.wait(300), "the stream did not get going"
        started = time.monotonic()
        fault()
        for t in threads:
            t.join(timeout=600)
        assert not any(t.is_alive() for t in threads), "a client hung"
        return time.monotonic() - started


async def _stored(url: str, prefix: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT prediction_id) AS ids FROM predictions WHERE prediction_id LIKE $1",
            prefix + "-%")
        keys = await conn.fetchval("SELECT count(*) FROM ingest_batches WHERE idempotency_key LIKE $1", prefix + "-%")
        return rows["n"], rows["ids"], keys
    finally:
        await conn.close()


def _check(stream: Stream, url: str) -> None:
    assert not stream.failures, stream.failures
    assert len(stream.acked) == CLIENTS * BATCHES
    assert all(written + dup == ROWS for _, written, dup in stream.acked), stream.acked
    # a batch whose first answer was lost is answered from its key (written as first answered), so the
    # acknowledged counts add up to every row exactly once
    assert sum(w for _, w, _ in stream.acked) == CLIENTS * BATCHES * ROWS
    assert asyncio.run(_stored(url, stream.prefix)) == (CLIENTS * BATCHES * ROWS, CLIENTS * BATCHES * ROWS,
                                                         CLIENTS * BATCHES)


@pytest.fixture
def api(cluster: Cluster, tmp_path: Path) -> Iterator[ApiProcess]:
    proc = start_api(cluster.url, tmp_path / "api.log", DRIFTLINE_POOL_MAX_SIZE="8")
    yield proc
    if proc.proc.poll() is None:
        proc.proc.terminate()
        proc.proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_database_restart_during_the_stream(cluster: Cluster, api: ApiProcess) -> None:
    stream = Stream(api.url, "restart")
    took = stream.run(lambda: cluster.pg_ctl("restart", "-m", "fast"))
    print(f"database restart: stream finished {took:.1f} s after the fault")
    _check(stream, cluster.url)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_database_crash_during_the_stream(cluster: Cluster, api: ApiProcess) -> None:
    def crash() -> None:
        cluster.pg_ctl("stop", "-m", "immediate")
        time.sleep(1.0)
        cluster.start()

    stream = Stream(api.url, "crash")
    took = stream.run(crash)
    print(f"database immediate stop: stream finished {took:.1f} s after the fault")
    _check(stream, cluster.url)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_api_kill_during_the_stream(cluster: Cluster, tmp_path: Path) -> None:
    first = start_api(cluster.url, tmp_path / "api.log", DRIFTLINE_POOL_MAX_SIZE="8")
    second: list[ApiProcess] = []

    def kill_and_restart() -> None:
        first.kill9()
        time.sleep(0.5)
        second.append(start_api(cluster.url, tmp_path / "api.log", port=first.port, DRIFTLINE_POOL_MAX_SIZE="8"))

    try:
        stream = Stream(first.url, "kill")
        took = stream.run(kill_and_restart)
        print(f"API kill -9: stream finished {took:.1f} s after the fault")
        _check(stream, cluster.url)
    finally:
        for p in (first, *second):
            if p.proc.poll() is None:
                p.proc.terminate()
                p.proc.wait(timeout=30)
