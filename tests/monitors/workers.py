"""`driftline worker` processes for the tests: started on a test database with a fast scheduler tick, short
heartbeats and a short stalled-worker timeout, stopped (or killed) by their pid."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_worker(db_url: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    full = {**os.environ, "DRIFTLINE_DATABASE_URL": db_url, "DRIFTLINE_SCHEDULER_CRON": "* * * * * */2",
            "DRIFTLINE_WORKER_HEARTBEAT_S": "0.5", "DRIFTLINE_WORKER_STALLED_S": "3", "PYTHONUNBUFFERED": "1", **env}
    out = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "engine.cli.main", "worker", "--interval", "2"], cwd=ROOT,
                            env=full, stdout=out, stderr=out)


def stop_all(procs: list[subprocess.Popen[bytes]], timeout: float = 40.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
