"""Re-bucketing benchmark (issue 13): the cost of recomputing the feature windows (1m, 1h, 1d) of the retained
history after a baseline is activated, per million retained rows.

Not a test. Rows come from `analysis_bench.insert_day_sql` (20 numeric + 5 categorical features, the same
generator as the 20M analysis benchmark) at its density (666 666 rows per day, ~463 per minute), into
`driftline_rebucket_<days>d` on the cluster of `--url`:

    .venv/bin/python bench/rebucket_bench.py load --days 2        # rows, prediction windows, baseline `ref`
    .venv/bin/python bench/rebucket_bench.py rebucket --days 2    # re-activate `ref`, time the refresh

`rebucket` re-activates the baseline (which queues the model's whole history for the feature windows, as
a new activation does) and times the refreshes until nothing is pending. Run it with the code (and schema)
of each revision under comparison on the same database. `sql` times the 1m feature statement and the 1h
rollup statement alone, in a rolled-back transaction. Results: JSON lines appended to
`bench/results/rebucket.jsonl`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.analysis_bench import START, ensure_named_db, insert_day_sql, register_bench_model  # noqa: E402
from engine.rollups.refresher import refresh  # noqa: E402
from engine.services.baselines.service import BaselineService  # noqa: E402
from engine.store.unit import unit_from_pool  # noqa: E402

PER_DAY = 666_666
RESULTS = ROOT / "bench" / "results" / "rebucket.jsonl"


async def ensure_db(url: str, days: int, migrate: bool) -> str:
    return await ensure_named_db(url, f"driftline_rebucket_{days}d", migrate)


def record(step: str, out: dict[str, Any]) -> None:
    out = {"step": step, "at": datetime.now(UTC).isoformat(timespec="seconds"), "loadavg": os.getloadavg(), **out}
    with RESULTS.open("a") as f:
        f.write(json.dumps(out, default=str) + "\n")
    print(json.dumps(out, default=str, indent=1))


def backend_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a server process (the cluster runs on this machine): unlike wall time,
    barely affected by the other jobs sharing the two cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def refresh_all(pool: asyncpg.Pool) -> tuple[float, list[dict[str, Any]]]:
    t = time.perf_counter()
    reports = []
    while True:
        async with unit_from_pool(pool) as uow:
            d = (await refresh(uow)).to_dict()
        reports.append(d)
        if not d.get("groups"):
            return time.perf_counter() - t, reports


async def load(url: str, days: int) -> None:
    db = await ensure_db(url, days, migrate=True)
    pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
    out: dict[str, Any] = {"db": db}
    async with pool.acquire() as conn:
        fresh = await conn.fetchval("SELECT id FROM models WHERE name = 'bench'") is None
        mid, vid = await register_bench_model(conn)
        if fresh:
            t = time.perf_counter()
            for day in range(days):
                await conn.execute(insert_day_sql(), mid, vid, START + timedelta(days=day), PER_DAY, 0, f"d{day}-")
            out["insert_s"] = time.perf_counter() - t
    out["refresh_s"], _ = await refresh_all(pool)
    async with unit_from_pool(pool) as uow:
        # reference: the first 6 hours (a smaller range than the 20M benchmark's two days: the cost measured
        # here is the re-bucketing, which does not depend on how the edges were found)
        t = time.perf_counter()
        await BaselineService(uow).create_from_range("bench", "ref", START, START + timedelta(hours=6))
        out["baseline_s"] = time.perf_counter() - t
    out["first_rebucket_s"], _ = await refresh_all(pool)
    await pool.close()
    record("load", out)


def use_feature_sql_of(rev: str) -> None:
    """Re-bucket with the 1m feature SQL (`engine/store/feature_bins.py`) of git revision `rev` instead of
    this tree's: the old-vs-new comparison on one database in one run."""
    import importlib.util
    import subprocess
    import tempfile

    import engine.rollups.refresher as refresher

    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:engine/store/feature_bins.py"],
                          check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "feature_bins_rev.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("feature_bins_rev", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    refresher.feature_source_sql = mod.feature_source_sql  # type: ignore[attr-defined]


async def rebucket(url: str, days: int, label: str) -> None:
    db = await ensure_db(url, days, migrate=False)
    pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        retained = await conn.fetchval("SELECT count(*) FROM predictions")
        mid = await conn.fetchval("SELECT id FROM models WHERE name = 'bench'")
        lo, hi = await conn.fetchrow("SELECT min(time), max(time) FROM predictions WHERE model_id = $1", mid)
        # what activating a baseline queues: the model's whole history for the feature windows
        await conn.execute(
            "INSERT INTO window_invalidations (kind, model_id, lo, hi) VALUES ('features', $1,"
            " time_bucket('1 minute', $2::timestamptz), time_bucket('1 minute', $3::timestamptz) + interval '1 minute')",
            mid, lo, hi,
        )
    one = await asyncpg.create_pool(db, min_size=1, max_size=1)  # the refresh runs on this one backend
    async with one.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
    cpu0 = backend_cpu_s(pid)
    secs, reports = await refresh_all(one)
    cpu = backend_cpu_s(pid) - cpu0
    await one.close()
    async with pool.acquire() as conn:
        digest = await conn.fetchval(
            "SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s', bucket, feature, n, missing, out_of_range, counts,"
            " bin_sums), ',' ORDER BY bucket, feature)) FROM feature_hist_1d"
        )
    await pool.close()
    record("rebucket", {
        "label": label, "db": db, "retained_rows": retained, "rebucket_s": secs,
        "rebucket_s_per_million_rows": secs / (retained / 1e6), "backend_cpu_s": cpu,
        "backend_cpu_s_per_million_rows": cpu / (retained / 1e6), "reports": reports, "feature_hist_1d_digest": digest,
    })


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=("load", "rebucket"))
    ap.add_argument("--url", default=os.environ.get("DRIFTLINE_DATABASE_URL", "postgresql://postgres@127.0.0.1:55550/postgres"))
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--label", default="")
    ap.add_argument("--feature-sql-of", default="", help="git revision whose 1m feature SQL to use (old vs new)")
    a = ap.parse_args()
    if a.step == "load":
        asyncio.run(load(a.url, a.days))
    else:
        if a.feature_sql_of:
            use_feature_sql_of(a.feature_sql_of)
        asyncio.run(rebucket(a.url, a.days, a.label or a.feature_sql_of or "this tree"))


if __name__ == "__main__":
    main()
