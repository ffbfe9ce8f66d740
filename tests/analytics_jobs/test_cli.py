"""`driftline analytics-jobs` as a subprocess against the test database: create, list, run, runs, delete,
and the exit codes of refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.analytics_jobs.support import write_pair
from tests.cli.helpers import ROOT
from tests.ingest.support import register_all


def cli(db_url: str, root: Path | None, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # `python -m` from the checkout, not the installed script: the script imports the package it was installed
    # from, which need not be this checkout (a git worktree shares the virtualenv)
    cmd = [sys.executable, "-m", "engine.cli.main"]
    env = {**os.environ, "DRIFTLINE_DATABASE_URL": db_url, "DRIFTLINE_ANALYTICS_OUTPUT_PATH": str(out)}
    env.pop("DRIFTLINE_ANALYTICS_INPUT_ROOT", None)
    if root is not None:
        env["DRIFTLINE_ANALYTICS_INPUT_ROOT"] = str(root)
    return subprocess.run([*cmd, "analytics-jobs", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


async def test_cli_lifecycle(db_url: str, pool: asyncpg.Pool, tmp_path: Path) -> None:
    models = await register_all(pool)
    root, out = tmp_path / "root", tmp_path / "out"
    pair = write_pair(root, models["iris"], seed=9, n=300)
    create = ("create", "j1", "-m", "iris", "--metrics", "in/iris_metrics.parquet", "--predictions",
              "in/iris_predictions.parquet", "--frequency", "hourly")
    r = cli(db_url, root, out, *create)
    assert r.returncode == 0 and "created: j1" in r.stdout, r.stderr
    assert cli(db_url, root, out, *create[:-1], "daily").returncode == 4  # conflict
    assert cli(db_url, None, out, "create", "j2", "-m", "iris", "--metrics", "a.parquet",
               "--predictions", "b.parquet").returncode == 2  # no input root configured
    bad = cli(db_url, root, out, "create", "j3", "-m", "iris", "--metrics", "../x.parquet", "--predictions",
              "in/iris_predictions.parquet")
    assert bad.returncode == 2 and "metrics_path: '..' is not allowed" in bad.stderr
    listed = cli(db_url, root, out, "list", "--json")
    assert [j["job_id"] for j in json.loads(listed.stdout)] == ["j1"]

    ran = cli(db_url, root, out, "run", "j1")
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert run["status"] == "succeeded" and run["rows_ingested"] == pair.predictions.height + pair.metrics.height
    assert {p.name for p in out.iterdir()} == set(run["outputs"])
    runs = cli(db_url, root, out, "runs", "j1")
    assert "succeeded" in runs.stdout and run["batch_id"] in runs.stdout
    pair.predictions.drop("time").write_parquet(pair.predictions_path)
    failed = cli(db_url, root, out, "run", "j1")
    assert failed.returncode == 1 and "column 'time' is missing" in failed.stderr
    assert cli(db_url, root, out, "delete", "j1").returncode == 0
    assert cli(db_url, root, out, "show", "j1").returncode == 3
