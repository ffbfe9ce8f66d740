"""Commands that wrap other parts: the cluster script, the rollup refresher."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.helpers import ROOT, driftline


def test_db_url_comes_from_the_cluster_script() -> None:
    out = driftline("postgresql://unused@127.0.0.1:1/x", "db", "url")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("postgresql://postgres@127.0.0.1:")


async def test_rollups_refresh(db_url: str) -> None:
    out = driftline(db_url, "rollups", "refresh")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["edition"] in ("apache", "timescale")


def test_unreachable_database_is_a_clean_error() -> None:
    out = driftline("postgresql://postgres@127.0.0.1:1/none", "models", "list")
    assert out.returncode == 1
    assert "cannot connect to the database" in out.stderr
    assert "Traceback" not in out.stderr


async def test_worker_stops_cleanly_on_sigterm(db_url: str) -> None:
    script = Path(sys.executable).parent / "driftline"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli.main"]
    proc = subprocess.Popen([*cmd, "worker", "--interval", "0.5"], cwd=ROOT, text=True,
                            env={**os.environ, "DRIFTLINE_DATABASE_URL": db_url},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the start-up line: signal handlers are installed by then
        assert "refreshing rollups every 0.5 s" in first
        time.sleep(1.5)
        assert proc.poll() is None, "the worker exited on its own"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    runs = int(re.search(r"stopped after (\d+) refreshes", err).group(1))  # type: ignore[union-attr]
    assert runs >= 2
    assert "Traceback" not in err
