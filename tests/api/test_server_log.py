"""A 500 always leaves a traceback in the server log: `driftline serve` (uvicorn, the app factory) runs as a
subprocess whose stderr we read; the 500 comes from a real path broken in the test's own database."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from engine.config import Settings
from engine.errors import DriftlineError
from tests.sdk.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


class Served:
    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log

    def wait_for_log(self, *needles: str, timeout: float = 20.0) -> str:
        """The server's stderr once it holds every needle (the log handler may write from a thread)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log.read_text(errors="replace")
            if all(n in text for n in needles) or time.monotonic() > deadline:
                return text
            time.sleep(0.05)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    script = Path(sys.executable).parent / "driftline"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli.main"]
    port = free_port()
    log = tmp_path / "server.stderr"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*cmd, "serve", "--port", str(port), "--log-level", "warning"], cwd=ROOT,
            env={**os.environ, "DRIFTLINE_DATABASE_URL": db_url, "DRIFTLINE_POOL_MAX": "2"},
            stdout=subprocess.DEVNULL, stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"the server exited:\n{log.read_text()}"
            try:
                if httpx.get(f"{url}/health/live", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()}"
            time.sleep(0.1)
        yield Served(url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_unhandled_exception_logs_its_traceback(served: Served, db_url: str) -> None:
    r = httpx.get(f"{served.url}/api/v1/models")
    assert r.status_code == 200, r.text
    conn = await asyncpg.connect(db_url)
    try:  # every statement naming the table now fails: nothing maps that to a domain error
        await conn.execute("ALTER TABLE models RENAME TO models_renamed_by_test")
    finally:
        await conn.close()
    r = httpx.get(f"{served.url}/api/v1/models")
    assert r.status_code == 500, r.text
    body = r.json()
    assert (body["status_code"], body["detail"]) == (500, "Internal Server Error")  # no internals in the body
    log = served.wait_for_log("UndefinedTableError", "/api/v1/models")
    assert "Traceback (most recent call last)" in log, log
    assert 'relation "models" does not exist' in log, log
    assert "GET /api/v1/models" in log, log


async def test_unmapped_domain_error_logs_its_traceback(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DriftlineError without a status of its own is a 500 too: its detail goes in the body and its
    traceback in the log."""
    from engine.services.models import ModelService

    class Unmapped(DriftlineError):
        pass

    async def broken(self: object) -> None:
        raise Unmapped("a domain error nobody mapped")

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("driftline.api")
    async with AsyncTestClient(app=create_app(Settings(database_url=db_url, pool_max_size=2))) as c:
        logger.addHandler(handler)  # after the app configured logging (it may reset the root logger)
        try:
            monkeypatch.setattr(ModelService, "list_models", broken)
            r = await c.get("/api/v1/models")
        finally:
            logger.removeHandler(handler)
    assert r.status_code == 500, r.text
    assert r.json()["detail"] == "Unmapped: a domain error nobody mapped"
    [record] = [rec for rec in records if rec.levelno >= logging.ERROR]
    assert record.exc_info is not None and isinstance(record.exc_info[1], Unmapped)
    assert "GET /api/v1/models" in record.getMessage()
