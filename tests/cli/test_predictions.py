"""`driftline predictions delete`: by id (repeated or from a file), by range, both; the windows see it; bad
arguments exit 2, an unknown model 3."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.cli.helpers import driftline, register
from tests.cli.test_ingest import SPEC, T0, make_frame


async def _count(db_url: str, sql: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_delete_by_id_file_and_range(db_url: str, tmp_path: Path) -> None:
    register(db_url, tmp_path, SPEC)
    frame = make_frame(300, seed=7)
    frame.write_parquet(tmp_path / "p.parquet")
    loaded = driftline(db_url, "ingest", "predictions", str(tmp_path / "p.parquet"), "--model", SPEC["name"],
                       "--segment-columns", "region")
    assert loaded.returncode == 0, loaded.stderr
    ids = frame.get_column("prediction_id").to_list()
    out = driftline(db_url, "predictions", "delete", "-m", SPEC["name"], "--id", ids[0], "--id", ids[1], "--id", "nope")
    assert out.returncode == 0, out.stderr
    assert "2 deleted" in out.stdout
    (tmp_path / "ids.txt").write_text("\n".join(ids[2:12]) + "\n\n")
    out = driftline(db_url, "predictions", "delete", "-m", SPEC["name"], "--ids-file", str(tmp_path / "ids.txt"), "--json")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().replace(" ", "").replace("\n", "") == '{"deleted":10}'
    times = frame.get_column("time").to_list()
    start, end = times[100], times[200]
    expected = sum(start <= t < end for t in times[12:])
    out = driftline(db_url, "predictions", "delete", "-m", SPEC["name"],
                    "--start", start.isoformat(), "--end", end.isoformat())
    assert out.returncode == 0 and f"{expected} deleted" in out.stdout, out.stdout + out.stderr
    left = await _count(db_url, "SELECT count(*) FROM predictions")
    assert left == 300 - 12 - expected
    assert await _count(db_url, "SELECT count(*) FROM prediction_times") == left
    assert driftline(db_url, "rollups", "refresh").returncode == 0
    assert await _count(db_url, "SELECT sum(n) FROM predictions_by_model_1d") == left


async def test_delete_refuses_bad_arguments(db_url: str, tmp_path: Path) -> None:
    register(db_url, tmp_path, SPEC)
    nothing = driftline(db_url, "predictions", "delete", "-m", SPEC["name"])
    assert nothing.returncode == 2 and "give --id" in nothing.stderr
    naive = driftline(db_url, "predictions", "delete", "-m", SPEC["name"], "--start", "2026-11-20T00:00:00")
    assert naive.returncode == 2 and "timezone" in naive.stderr
    backwards = driftline(db_url, "predictions", "delete", "-m", SPEC["name"], "--start", T0.isoformat(),
                          "--end", T0.isoformat())
    assert backwards.returncode == 2 and "end" in backwards.stderr
    unknown = driftline(db_url, "predictions", "delete", "-m", "nope", "--id", "x")
    assert unknown.returncode == 3
