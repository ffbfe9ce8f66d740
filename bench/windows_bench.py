"""Windows benchmark: reads from the 1m / 1h windows vs the same from raw rows, and refresh cost after a late
batch, at a given total size. Not a test; results go to bench/results/windows.md.

    .venv/bin/python bench/windows_bench.py --rows 2000000            # Apache cluster (scripts/cluster.sh)
    .venv/bin/python bench/windows_bench.py --rows 2000000 --url postgresql://…:55433/postgres   # full edition

Creates (and drops, unless --keep) its own database `driftline_bench_<rows>` on the cluster, migrates it,
loads a binary model's predictions spread evenly over 30 days (2 numeric + 1 categorical feature with an
active baseline, latency, segments, 50 % labelled) by COPY in 50k-row batches, refreshes, then measures:
- the REST read of 30 days at 1h (whole model, per version, per region) and at 1m, p50 / p95 over
  repeated requests, twice: through the in-process ASGI client (Litestar → WindowsService, no network)
  and over real HTTP to uvicorn serving the app in a subprocess on loopback (httpx client, keep-alive);
- the window state read from `predictions_*`, `predictions_by_version_*` and `predictions_by_model_*`
  vs the same per-bucket state computed from raw rows (the 1m source view over 30 days, to the level);
- the refresh after a late batch of 10k rows inside one hour 15 days back (and after a label batch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from litestar.testing import AsyncTestClient  # noqa: E402

from api.app import create_app, freeze_long_lived  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.rollups.refresher import refresh  # noqa: E402
from engine.store.unit import unit_from_pool  # noqa: E402
from engine.store.window_reads import WindowRead, read_windows  # noqa: E402
from engine.windows.merge import merge_columns  # noqa: E402
from engine.windows.spec import LEVELS, PREDICTIONS, PREDICTIONS_BY_MODEL, PREDICTIONS_BY_VERSION  # noqa: E402
from tests.conftest import alembic_config  # noqa: E402

END = datetime(2026, 3, 31, tzinfo=UTC)
START = END - timedelta(days=30)
COLUMNS = [
    "time",
    "model_id",
    "version_id",
    "prediction_id",
    "predicted_class",
    "score",
    "latency_ms",
    "segments",
    "num_features",
    "cat_features",
    "label_class",
    "label_time",
]


def batch(
    rng: np.random.Generator,
    model_id: int,
    vids: list[int],
    n: int,
    t0: datetime,
    seconds: float,
    prefix: str,
) -> list[tuple]:
    offs = np.sort(rng.uniform(0, seconds, n))
    score = rng.beta(2, 3, n)
    labeled = rng.random(n) < 0.5
    y = rng.random(n) < score
    lat = rng.lognormal(2.0, 0.8, n)
    x1, x2 = rng.normal(0, 1, n), rng.exponential(2, n)
    colors = np.array(["red", "green", "blue", "mauve"])[rng.integers(0, 4, n)]
    regions = [json.dumps({"region": r}) for r in ("eu", "us", "ap")]
    reg = rng.integers(0, 3, n)
    ver = rng.integers(0, len(vids), n)
    delay = rng.uniform(60, 86400, n)
    base = t0.timestamp()
    out = []
    for i in range(n):
        t = datetime.fromtimestamp(base + offs[i], UTC)
        s = float(score[i])
        out.append(
            (
                t,
                model_id,
                vids[ver[i]],
                f"{prefix}{i}",
                "pos" if s >= 0.5 else "neg",
                s,
                float(lat[i]),
                regions[reg[i]],
                [float(x1[i]), float(x2[i])],
                [str(colors[i])],
                ("pos" if y[i] else "neg") if labeled[i] else None,
                t + timedelta(seconds=float(delay[i])) if labeled[i] else None,
            )
        )
    return out


async def setup(url: str, rows: int, keep: bool) -> tuple[str, str]:
    base = url.rsplit("/", 1)[0]
    name = f"driftline_bench_{rows}_{uuid.uuid4().hex[:4]}" if not keep else f"driftline_bench_{rows}"
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and keep:  # bring a kept database to the current schema (timed by the caller's log)
            t = time.perf_counter()
            await asyncio.to_thread(command.upgrade, alembic_config(f"{base}/{name}"), "head")
            print(f"[bench] reused {name}; alembic upgrade head took {time.perf_counter() - t:.1f} s", file=sys.stderr)
            return f"{base}/{name}", "reused"
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    db = f"{base}/{name}"
    c = await asyncpg.connect(db)
    await c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    await c.close()
    await asyncio.to_thread(command.upgrade, alembic_config(db), "head")
    return db, "created"


async def load(db: str, rows: int, out: dict) -> None:
    pool = await asyncpg.create_pool(db, min_size=1, max_size=4)
    rng = np.random.default_rng(7)
    async with pool.acquire() as conn:
        mid = await conn.fetchval(
            "INSERT INTO models (name, task, class_labels, dimensions) VALUES "
            "('bench', 'binary', '{neg,pos}', '{region}') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO model_features (model_id, name, kind, position, ordinal) VALUES"
            " ($1, 'x1', 'numeric', 1, 1), ($1, 'x2', 'numeric', 2, 2), ($1, 'color', 'categorical', 1, 3)",
            mid,
        )
        vids = [
            await conn.fetchval(
                "INSERT INTO model_versions (model_id, version) VALUES ($1, $2) RETURNING id", mid, v
            )
            for v in ("v1", "v2")
        ]
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, edges, lower, upper) VALUES "
            "($1, 'x1', 'numeric', $2, -4, 4)",
            mid,
            [float(e) for e in np.linspace(-2, 2, 9)],
        )
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, categories) VALUES "
            "($1, 'color', 'categorical', '{red,green,blue}')",
            mid,
        )
    per = 50_000
    n_batches = (rows + per - 1) // per
    span = (END - START).total_seconds() / n_batches
    gen = copy = 0.0
    for b in range(n_batches):
        t = time.perf_counter()
        recs = batch(
            rng, mid, vids, min(per, rows - b * per), START + timedelta(seconds=b * span), span, f"b{b}-"
        )
        gen += time.perf_counter() - t
        t = time.perf_counter()
        async with pool.acquire() as conn:
            await conn.copy_records_to_table("predictions", records=recs, columns=COLUMNS)
        copy += time.perf_counter() - t
    out["load_copy_s"] = copy
    out["load_rows_per_s"] = rows / copy
    out["generate_s"] = gen
    t = time.perf_counter()
    async with unit_from_pool(pool) as uow:
        rep = await refresh(uow)
    out["initial_refresh_s"] = time.perf_counter() - t
    out["initial_refresh"] = rep.to_dict()
    await pool.close()


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, q))


async def _rest(
    client: AsyncTestClient | httpx.AsyncClient, params: dict, n: int
) -> tuple[list[float], dict]:
    times = []
    body: dict = {}
    for _ in range(n):
        t = time.perf_counter()
        r = await client.get("/api/v1/models/bench/windows/metrics", params=params)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
        body = r.json()
    return times, body


FIVE = "count,accuracy,roc_auc,log_loss,latency_p95_ms"
# (granularity, metrics or None for all, group_by, extra parameters, tag): ungrouped and per-version reads
# come from predictions_by_model_* / predictions_by_version_*, a segment grouping or filter from
# predictions_* (version x segment rows)
EXACT = {"start": (START + timedelta(minutes=17)).isoformat(), "end": (END - timedelta(minutes=13)).isoformat()}
CASES: tuple[tuple[str, str | None, str | None, dict[str, str], str], ...] = (
    ("1h", None, None, {}, ""),
    ("1h", None, None, EXACT, "_exact_edges"),
    ("1h", FIVE, None, {}, ""),
    ("1h", "count", None, {}, ""),
    ("1h", None, "version", {}, ""),
    ("1h", None, "region", {}, ""),
    ("1h", None, None, {"filter": "region=eu"}, "_region_eu"),
    ("6h", None, "version,region", {}, ""),
    ("1h", None, "version,region", {}, ""),
    ("1h", None, "version,region", {"start": (END - timedelta(days=7)).isoformat()}, "_7d"),
    ("1h", None, "region", {"start": (END - timedelta(days=14)).isoformat()}, "_14d"),
    ("1d", None, "version,region", {}, ""),
    ("1m", "count", None, {}, ""),
    ("1m", FIVE, None, {}, ""),
)


async def _rest_cases(client: AsyncTestClient | httpx.AsyncClient, out: dict, prefix: str, reps: int) -> None:
    base = {"start": START.isoformat(), "end": END.isoformat()}
    await _rest(client, {**base, "granularity": "1h"}, 2)  # warm-up
    for level, metrics, group, extra, suffix in CASES:
        n = reps if level != "1m" else 3
        params = {
            **base,
            "granularity": level,
            **({"metrics": metrics} if metrics else {}),
            **({"group_by": group} if group else {}),
            **extra,
        }
        times, body = await _rest(client, params, n)
        tag = f"{prefix}_{level}_{'all' if metrics is None else len(metrics.split(','))}metrics"
        tag += f"_by_{group.replace(',', '_')}" if group else ""
        tag += suffix
        out[f"{tag}_points"] = len(body["points"])
        out[f"{tag}_p50_ms"] = pct(times, 50)
        out[f"{tag}_p95_ms"] = pct(times, 95)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def measure_http(db: str, out: dict, reps: int) -> None:
    """The same requests over HTTP to `uvicorn --factory api.app:app_from_env` in a subprocess."""
    port = _free_port()
    env = {**os.environ, "DRIFTLINE_DATABASE_URL": db, "DRIFTLINE_POOL_MAX": "4"}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            for _ in range(200):
                try:
                    await client.get("/api/v1/models/bench/windows/metrics", params={"start": "x"})
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            await _rest_cases(client, out, "http", reps)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def measure(db: str, out: dict, reps: int, raw_reps: int) -> None:
    app = create_app(Settings(database_url=db, pool_max_size=4))
    app.on_startup.append(freeze_long_lived)  # as the served process does (`app_from_env`)
    async with AsyncTestClient(app=app, timeout=600) as client:
        await _rest_cases(client, out, "rest_inproc", reps)
    await measure_http(db, out, reps)
    pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
    conn = await asyncpg.connect(db)
    try:
        mid = await conn.fetchval("SELECT id FROM models WHERE name = 'bench'")
        for level in ("1h", "1m"):
            # windows: the service's read path (indexed range scan of the level + numpy merge per bucket),
            # from the per-(version, segment) relation and from the segment-merged one
            families = ((PREDICTIONS, "windows"), (PREDICTIONS_BY_VERSION, "by_version"), (PREDICTIONS_BY_MODEL, "by_model"))
            for fam, tag in families:
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    async with unit_from_pool(pool) as uow, uow.snapshot() as snap:
                        await read_windows(snap, [WindowRead(fam, level, mid, START, END)])
                    times.append(time.perf_counter() - t)
                out[f"read_{level}_{tag}_median_ms"] = statistics.median(times) * 1000
            # raw: the same per-bucket state from raw rows (the 1m aggregation of every row in 30 days,
            # histograms with TimescaleDB's histogram(), merged to the level in numpy) -- the best a
            # system without rollups could do with the same SQL
            cols = ", ".join(
                f"array_send({c}) AS {c}" if how == "counts" else c for c, how in PREDICTIONS.state
            )
            sql = (
                f"SELECT time_bucket('{LEVELS[level].sql_interval}', bucket) AS bucket, NULL::text AS grp, {cols}"
                " FROM predictions_1m_source WHERE model_id = $1 AND bucket >= $2 AND bucket < $3 ORDER BY 1"
            )
            times = []
            for _ in range(raw_reps):
                t = time.perf_counter()
                merge_columns(PREDICTIONS, await conn.fetch(sql, mid, START, END))
                times.append(time.perf_counter() - t)
            if not times:  # --raw-reps 0: windows only
                continue
            out[f"read_{level}_raw_median_ms"] = statistics.median(times) * 1000
            for tag in ("windows", "by_model"):
                out[f"read_{level}_raw_over_{tag}"] = (
                    out[f"read_{level}_raw_median_ms"] / out[f"read_{level}_{tag}_median_ms"]
                )
        # late batch: 10k rows inside one hour, 15 days back
        vids = [r["id"] for r in await conn.fetch("SELECT id FROM model_versions WHERE model_id = $1", mid)]
        late_t0 = START + timedelta(days=15, hours=3)
        recs = batch(
            np.random.default_rng(99), mid, vids, 10_000, late_t0, 3600, f"late{uuid.uuid4().hex[:6]}-"
        )
        await conn.copy_records_to_table("predictions", records=recs, columns=COLUMNS)
        t = time.perf_counter()
        async with unit_from_pool(pool) as uow:
            rep = await refresh(uow)
        out["late_batch_refresh_s"] = time.perf_counter() - t
        out["late_batch_refresh"] = rep.to_dict()
        # late labels for up to 10k predictions of one day, 10 days back
        day = START + timedelta(days=20)
        await conn.execute(
            "UPDATE predictions SET label_class = 'pos', label_time = time + interval '2 days'"
            " WHERE model_id = $1 AND time >= $2 AND time < $3 AND label_class IS NULL"
            " AND prediction_id IN (SELECT prediction_id FROM predictions WHERE model_id = $1 AND time >= $2"
            " AND time < $3 AND label_class IS NULL LIMIT 10000)",
            mid,
            day,
            day + timedelta(days=1),
        )
        t = time.perf_counter()
        async with unit_from_pool(pool) as uow:
            rep = await refresh(uow)
        out["late_labels_refresh_s"] = time.perf_counter() - t
        out["late_labels_refresh"] = rep.to_dict()
        out["predictions_1m_rows"] = await conn.fetchval("SELECT count(*) FROM predictions_1m")
        out["predictions_by_version_1m_rows"] = await conn.fetchval("SELECT count(*) FROM predictions_by_version_1m")
        out["predictions_rows"] = await conn.fetchval("SELECT count(*) FROM predictions")
        out["db_size"] = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        out["license"] = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    finally:
        await conn.close()
        await pool.close()


async def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:55432/postgres")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--raw-reps", type=int, default=2, help="repetitions of the (slow) raw-row reads; 0 skips them")
    ap.add_argument(
        "--keep", action="store_true", help="keep (and reuse) the database driftline_bench_<rows>"
    )
    ap.add_argument("--load-only", action="store_true", help="create and load the database, measure nothing")
    args = ap.parse_args()
    out: dict = {"rows": args.rows}
    db, state = await setup(args.url, args.rows, args.keep)
    try:
        if state == "created":
            await load(db, args.rows, out)
        if not args.load_only:
            await measure(db, out, args.reps, args.raw_reps)
    finally:
        if not args.keep:
            base, name = db.rsplit("/", 1)
            admin = await asyncpg.connect(f"{base}/postgres")
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await admin.close()
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    asyncio.run(main())
