"""Finding 6: what driftline acknowledged survives a PostgreSQL crash. A cluster of its own (scripts/cluster.sh
with its defaults, i.e. durable commits), on its own port and data directory: 1,000 single-row batches are
acknowledged, then the server is stopped with `pg_ctl stop -m immediate` (no checkpoint, no WAL flush of its
own: a crash) right after the last answer, restarted, and every acknowledged row and idempotency key must be
there. With DRIFTLINE_PG_RELAXED_DURABILITY=1 (synchronous_commit=off) this loses the tail: the old default."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from engine.ingest.service import IngestService
from engine.store.unit import UnitOfWork
from tests.conftest import ROOT, alembic_config
from tests.ingest.support import T0, good_binary_row, register_all

PORT = int(os.environ.get("DRIFTLINE_DURABILITY_PORT", "55497"))
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
ROWS = 1000


def _cluster(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIFTLINE_HOME": str(home), "DRIFTLINE_PG_PORT": str(PORT)}
    env.pop("DRIFTLINE_PG_RELAXED_DURABILITY", None)
    return subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    if not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"no PostgreSQL binaries at {PG_BIN}")
    home = Path(tmp_path_factory.mktemp("durability"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    started = _cluster(home, "start")
    if started.returncode != 0:
        pytest.skip(f"cannot start a cluster of its own on port {PORT}: {started.stderr[-300:]}")
    try:
        yield home, started.stdout.strip().splitlines()[-1]
    finally:
        _cluster(home, "destroy")


def _crash(home: Path) -> None:
    cmd = [str(PG_BIN / "pg_ctl"), "-D", str(home / "pg"), "-m", "immediate", "-w", "stop"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60, cwd="/")


@pytest.mark.slow
def test_acknowledged_rows_survive_an_immediate_stop(own_cluster: tuple[Path, str]) -> None:
    from alembic import command

    home, url = own_cluster
    assert "synchronous_commit = on" in (home / "pg" / "driftline.conf").read_text()
    command.upgrade(alembic_config(url), "head")

    async def ingest() -> int:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        assert pool is not None
        try:
            await register_all(pool)
            acknowledged = 0
            async with pool.acquire() as conn:
                svc = IngestService(UnitOfWork(conn))
                for k in range(ROWS):
                    row = good_binary_row(k, T0 + timedelta(seconds=k))
                    result = await svc.log_predictions("churn", [row], idempotency_key=f"crash-{k}")
                    acknowledged += result.written
        finally:
            pool.terminate()
        return acknowledged

    acknowledged = asyncio.run(ingest())
    _crash(home)  # right after the last acknowledgement
    assert _cluster(home, "start").returncode == 0

    async def count() -> tuple[int, int]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetchval("SELECT count(*) FROM predictions")
            keys = await conn.fetchval("SELECT count(*) FROM ingest_batches WHERE idempotency_key LIKE 'crash-%'")
            return rows, keys
        finally:
            await conn.close()

    assert asyncio.run(count()) == (acknowledged, acknowledged) == (ROWS, ROWS)
