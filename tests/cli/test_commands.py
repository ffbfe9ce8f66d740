"""Commands that wrap other parts: the cluster script, the rollup refresher."""

from __future__ import annotations

import importlib.util

from tests.cli.helpers import driftline


def test_db_url_comes_from_the_cluster_script() -> None:
    out = driftline("postgresql://unused@127.0.0.1:1/x", "db", "url")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("postgresql://postgres@127.0.0.1:")


def _have_refresher() -> bool:
    try:
        return importlib.util.find_spec("engine.windows.refresh") is not None
    except ModuleNotFoundError:
        return False


async def test_rollups_refresh(db_url: str) -> None:
    out = driftline(db_url, "rollups", "refresh")
    if _have_refresher():
        assert out.returncode == 0, out.stderr
    else:
        assert out.returncode == 1
        assert "rollups not available in this build" in out.stderr


def test_unreachable_database_is_a_clean_error() -> None:
    out = driftline("postgresql://postgres@127.0.0.1:1/none", "models", "list")
    assert out.returncode == 1
    assert "cannot connect to the database" in out.stderr
    assert "Traceback" not in out.stderr
