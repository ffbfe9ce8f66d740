"""Running the `driftline` command as a subprocess against a test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def driftline(db_url: str, *args: str, timeout: float = 120,
              env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed entry point (or `python -m engine.cli.main` when the script is not installed), with
    this checkout first on the path: an editable install elsewhere (a git worktree sharing the virtualenv)
    would otherwise run that other checkout's code. `env` adds to (or, with "", blanks) the environment."""
    script = Path(sys.executable).parent / "driftline"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli.main"]
    env = {**os.environ, "DRIFTLINE_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([*cmd, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(json.dumps(spec))
    return path


def register(db_url: str, tmp_path: Path, spec: dict[str, Any], version: str = "1.0") -> None:
    """Register a model and a production version through the CLI."""
    created = driftline(db_url, "models", "create", "--file", str(write_spec(tmp_path / "spec.json", spec)))
    assert created.returncode == 0, created.stderr
    ver = driftline(db_url, "versions", "create", spec["name"], version, "--stage", "production")
    assert ver.returncode == 0, ver.stderr
