"""`driftline monitors …`: apply a YAML file (dry-run diff, idempotent re-apply, update, prune, errors naming the
entry), list / show / delete, run now (and its no-op), the run history."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from engine.cli.main import main
from tests.monitors.support import CUR_END, data
from tests.monitors.workers import ROOT

pytestmark = pytest.mark.asyncio

YAML = """
monitors:
  - model: churn
    name: hourly
    window: 1h
    granularity: 1m
    every: 1h
    min_samples: 50
    analyses:
      - kind: drift
        params: {rule: classic}
      - kind: quality
  - model: price
    name: daily
    window: 7d
    granularity: 1d
    cron: "0 6 * * *"
    analyses:
      - kind: trend
        params: {metric: mae}
"""


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_apply_list_run_runs(pool: asyncpg.Pool, db_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await data(pool)
    monkeypatch.setenv("DRIFTLINE_DATABASE_URL", db_url)
    f = tmp_path / "monitors.yaml"
    f.write_text(YAML)
    assert await cli("monitors", "apply", str(f), "--dry-run") == 0
    out = capfd.readouterr().out
    assert "+ churn/hourly (created)" in out and "+ price/daily (created)" in out and "nothing written" in out
    assert await pool.fetchval("SELECT count(*) FROM monitors WHERE name IN ('hourly', 'daily')") == 0
    assert await cli("monitors", "apply", str(f)) == 0
    assert await cli("monitors", "apply", str(f)) == 0
    out = capfd.readouterr().out
    assert out.count("(created)") == 2 and "= churn/hourly (unchanged)" in out and "= price/daily (unchanged)" in out
    f.write_text(YAML.replace("min_samples: 50", "min_samples: 80"))
    assert await cli("monitors", "apply", str(f), "--prune", "--dry-run") == 0
    out = capfd.readouterr().out
    assert "~ churn/hourly (updated)\n    min_samples: 50 -> 80" in out
    assert "- churn/default (deleted)" in out and "- price/default (deleted)" in out and "iris" not in out
    assert await cli("monitors", "apply", str(f), "--prune") == 0
    capfd.readouterr()
    assert await cli("monitors", "list", "--json") == 0
    listed = json.loads(capfd.readouterr().out)
    assert sorted((m["model"], m["name"]) for m in listed) == [("churn", "hourly"), ("iris", "default"),
                                                               ("price", "daily")]
    assert await cli("monitors", "show", "churn", "hourly") == 0
    assert json.loads(capfd.readouterr().out)["min_samples"] == 80
    # errors name the entry (row) and the field
    f.write_text(YAML.replace("kind: quality", "kind: qualty"))
    bad = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "engine.cli.main", "monitors", "apply", str(f)],
                                  cwd=ROOT, env={**os.environ, "DRIFTLINE_DATABASE_URL": db_url}, capture_output=True,
                                  text=True, timeout=120)
    assert bad.returncode == 2, bad.stderr
    assert "row 0, analyses.kind: unknown analysis 'qualty'; known: drift, quality" in bad.stderr
    f.write_text("monitors: 3")
    assert await cli("monitors", "apply", str(f)) == 2
    # run now, twice: the second is a no-op; the history shows the queued run
    assert await cli("monitors", "run", "churn", "hourly", "--end", CUR_END.isoformat()) == 0
    first = json.loads(capfd.readouterr().out)
    assert await cli("monitors", "run", "churn", "hourly", "--end", CUR_END.isoformat()) == 0
    second = json.loads(capfd.readouterr().out)
    assert not first["noop"] and first["job_queued"] and second["noop"]
    assert await cli("monitors", "runs", "churn", "hourly") == 0
    out = capfd.readouterr().out
    assert "WINDOW_END" in out and "queued" in out and "manual" in out
    assert await cli("monitors", "runs", "churn", "hourly", "--id", str(first["run"]["id"])) == 0
    assert json.loads(capfd.readouterr().out)["status"] == "queued"
    assert await cli("monitors", "delete", "churn", "hourly") == 0
    assert await cli("monitors", "show", "churn", "hourly") == 3
