"""Analysis benchmark (issue 13): 20M predictions over 30 days, 20 numeric + 5 categorical features.

Not a test. Steps, each resumable on a kept database (`driftline_bench_analysis_<rows>` on the cluster of
`--url`):

    .venv/bin/python bench/analysis_bench.py load --rows 20000000      # generate rows in SQL, refresh
    .venv/bin/python bench/analysis_bench.py baseline                  # baseline of days 1-2, re-bucketing cost
    .venv/bin/python bench/analysis_bench.py measure --reps 30         # REST over uvicorn: drift / analysis set
    .venv/bin/python bench/analysis_bench.py evidently --sample 200000 # Evidently 0.7 on a sample of the rows

Rows are generated server-side (`INSERT … SELECT generate_series`, one statement per day; Box–Muller normals)
so that 20M rows with 25 features load in minutes. Ground truth: from day 21 on (the last 10 days) numeric
features 0–4 drift (+0.5σ, ×1.6 scale, +0.3σ, a 30 % mixture component, −0.25σ) and categorical 0–1
change their proportions; the other 18 features never change. Results: JSON lines appended to
`bench/results/analysis.jsonl`, summarised by hand in `bench/results/analysis.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402

from engine.rollups.refresher import refresh  # noqa: E402
from engine.store.unit import unit_from_pool  # noqa: E402
from tests.conftest import alembic_config  # noqa: E402

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 30
DRIFT_FROM_DAY = 20  # 0-based: days 20..29 drift
# The baseline's reference range: days 1-2 (1.33M rows; a baseline from a range takes at most 2M rows).
REF_DAYS = 2
N_NUMERIC, N_CATEGORICAL = 20, 5
CATEGORY_SIZES = [2, 4, 8, 12, 20]
RESULTS = ROOT / "bench" / "results" / "analysis.jsonl"
NORMAL = "(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))"


def _numeric_sql(j: int) -> str:
    """SQL for feature j of one row; `r.d` is 1 on drifted days, 0 before."""
    kind = j % 4
    base = {
        0: f"(10 + 2 * {NORMAL})",
        1: f"exp(0.6 * {NORMAL})",
        2: "(-5 + 10 * random())",
        3: "(-3 * ln(1 - random()))",
    }[kind]
    if j == 0:
        return f"({base} + r.d * 1.0)"  # +0.5σ (σ = 2)
    if j == 1:
        return f"({base} * (1 + 0.6 * r.d))"  # scale ×1.6
    if j == 2:
        return f"({base} + r.d * 0.866)"  # +0.3σ (σ = 10/√12)
    if j == 3:
        return f"({base} + CASE WHEN r.d = 1 AND random() < 0.3 THEN 8 ELSE 0 END)"  # mixture
    if j == 4:
        return f"({base} - r.d * 0.5)"  # −0.25σ
    return base


def _categorical_sql(j: int) -> str:
    size = CATEGORY_SIZES[j]
    if j == 0:  # P(c0_0) 0.5 → 0.7
        return "(CASE WHEN random() < 0.5 + 0.2 * r.d THEN 'c0_0' ELSE 'c0_1' END)"
    if j == 1:  # uniform → skewed towards the first categories
        return f"('c1_' || floor(power(random(), 1 + 0.8 * r.d) * {size})::int)"
    return f"('c{j}_' || floor(random() * {size})::int)"


def insert_day_sql() -> str:
    """One day of rows: $1 model id, $2 version id, $3 day start, $4 rows, $5 drift flag (0/1), $6 prefix."""
    nums = ", ".join(_numeric_sql(j) for j in range(N_NUMERIC))
    cats = ", ".join(_categorical_sql(j) for j in range(N_CATEGORICAL))
    return f"""
INSERT INTO predictions (time, model_id, version_id, prediction_id, predicted_class, score, latency_ms, segments,
                         num_features, cat_features, label_class, label_time)
SELECT r.t, $1, $2, $6 || r.i, CASE WHEN r.s >= 0.5 THEN 'pos' ELSE 'neg' END, r.s, exp(2 + 0.8 * {NORMAL}),
       jsonb_build_object('region', (ARRAY['eu', 'us', 'ap'])[1 + floor(random() * 3)::int]),
       ARRAY[{nums}]::float8[], ARRAY[{cats}]::text[],
       CASE WHEN r.lab THEN CASE WHEN random() < r.s THEN 'pos' ELSE 'neg' END END,
       CASE WHEN r.lab THEN r.t + interval '1 hour' END
FROM (SELECT i, $3::timestamptz + (i * 86400.0 / $4) * interval '1 second' AS t,
             least(greatest(0.35 + 0.2 * {NORMAL} + 0.02 * $5, 0), 1) AS s, random() < 0.5 AS lab, $5::int AS d
      FROM generate_series(0, $4 - 1) AS i) r
"""


async def ensure_db(url: str, rows: int) -> str:
    return await ensure_named_db(url, f"driftline_bench_analysis_{rows}")


async def ensure_named_db(url: str, name: str, migrate: bool = True) -> str:
    """The database `name` on the cluster of `url` (created when missing, with TimescaleDB, migrated to head
    unless `migrate` is false): its URL."""
    base = url.rsplit("/", 1)[0]
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    db = f"{base}/{name}"
    c = await asyncpg.connect(db)
    await c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    await c.close()
    if migrate:
        await asyncio.to_thread(command.upgrade, alembic_config(db), "head")
    return db


def record(step: str, out: dict[str, Any]) -> None:
    out = {"step": step, "at": datetime.now(UTC).isoformat(timespec="seconds"), **out}
    with RESULTS.open("a") as f:
        f.write(json.dumps(out, default=str) + "\n")
    print(json.dumps(out, default=str, indent=1))


async def timed_refresh(pool: asyncpg.Pool) -> tuple[float, list[dict[str, Any]]]:
    """Refresh until nothing is pending; (seconds, reports)."""
    t = time.perf_counter()
    reports = []
    while True:
        async with unit_from_pool(pool) as uow:
            rep = await refresh(uow)
        d = rep.to_dict()
        reports.append(d)
        if not d.get("groups"):
            break
    return time.perf_counter() - t, reports


async def register_bench_model(conn: asyncpg.Connection) -> tuple[int, int]:
    """The binary model `bench` (one segment key, 20 numeric + 5 categorical features, version v1), created
    when missing: (model id, version id)."""
    mid = await conn.fetchval("SELECT id FROM models WHERE name = 'bench'")
    if mid is None:
        mid = await conn.fetchval(
            "INSERT INTO models (name, task, class_labels, dimensions) VALUES "
            "('bench', 'binary', '{neg,pos}', '{region}') RETURNING id"
        )
        feats = [(f"num_{j}", "numeric", j + 1) for j in range(N_NUMERIC)]
        feats += [(f"cat_{j}", "categorical", j + 1) for j in range(N_CATEGORICAL)]
        for ordinal, (fname, kind, pos) in enumerate(feats, 1):
            await conn.execute(
                "INSERT INTO model_features (model_id, name, kind, position, ordinal) VALUES ($1, $2, $3, $4, $5)",
                mid, fname, kind, pos, ordinal,
            )
        await conn.execute("INSERT INTO model_versions (model_id, version) VALUES ($1, 'v1')", mid)
    vid = await conn.fetchval("SELECT id FROM model_versions WHERE model_id = $1", mid)
    return int(mid), int(vid)


async def load(url: str, rows: int) -> None:
    db = await ensure_db(url, rows)
    pool = await asyncpg.create_pool(db, min_size=1, max_size=4)
    out: dict[str, Any] = {"db": db, "rows": rows}
    async with pool.acquire() as conn:
        mid, vid = await register_bench_model(conn)
        have = await conn.fetchval("SELECT count(*) FROM predictions WHERE model_id = $1", mid)
    per_day = rows // DAYS
    sql = insert_day_sql()
    t0 = time.perf_counter()
    if have < per_day * DAYS:
        async with pool.acquire() as conn:
            for day in range(DAYS):
                lo = START + timedelta(days=day)
                if await conn.fetchval(
                    "SELECT count(*) > 0 FROM predictions WHERE model_id = $1 AND time >= $2 AND time < $3",
                    mid, lo, lo + timedelta(days=1),
                ):
                    continue
                t = time.perf_counter()
                await conn.execute(sql, mid, vid, lo, per_day, int(day >= DRIFT_FROM_DAY), f"d{day}-")
                print(f"[load] day {day}: {per_day} rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    out["insert_s"] = time.perf_counter() - t0
    secs, reports = await timed_refresh(pool)
    out["refresh_s"] = secs
    out["refresh_reports"] = reports
    await pool.close()
    record("load", out)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`uvicorn --factory api.app:app_from_env` in a subprocess on loopback."""

    def __init__(self, db: str) -> None:
        self.port = _free_port()
        # the bench databases may predate the api_keys migration: open unless the caller says otherwise
        env = {"DRIFTLINE_AUTH": "open", **os.environ, "DRIFTLINE_DATABASE_URL": db, "DRIFTLINE_POOL_MAX": "4"}
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--host", "127.0.0.1",
               "--port", str(self.port), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"

    async def ready(self, client: httpx.AsyncClient) -> None:
        for _ in range(300):
            try:
                await client.get("/api/v1/models")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def baseline(url: str, rows: int) -> None:
    """Baseline from days 1-2 over REST (activated), then the refresh that re-buckets the retained history
    against it: the re-bucketing cost per million retained rows."""
    db = await ensure_db(url, rows)
    pool = await asyncpg.create_pool(db, min_size=1, max_size=4)
    out: dict[str, Any] = {"db": db}
    async with pool.acquire() as conn:
        retained = await conn.fetchval("SELECT count(*) FROM predictions")
        await conn.execute("DELETE FROM baselines WHERE name = 'ref'")
    server = Server(db)
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=3600) as client:
            await server.ready(client)
            t = time.perf_counter()
            r = await client.post("/api/v1/models/bench/baselines/", json={
                "name": "ref", "start": iso(START), "end": iso(START + timedelta(days=REF_DAYS)), "activate": True})
            out["create_baseline_s"] = time.perf_counter() - t
            out["create_baseline_status"] = r.status_code
            if r.status_code >= 300:
                out["create_baseline_body"] = r.text[:2000]
    finally:
        server.stop()
    secs, reports = await timed_refresh(pool)
    out["rebucket_s"] = secs
    out["retained_rows"] = retained
    out["rebucket_s_per_million_rows"] = secs / (retained / 1e6)
    out["rebucket_reports"] = reports
    await pool.close()
    record("baseline", out)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


async def _time(client: httpx.AsyncClient, reps: int, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """p50 / p95 ms of doing `calls` one after another (one sample = all of them), after one warm-up."""
    samples = []
    for i in range(reps + 1):
        t = time.perf_counter()
        for path, params in calls:
            r = await client.get(path, params=params)
            if r.status_code != 200:
                raise RuntimeError(f"{path}: {r.status_code} {r.text[:500]}")
        if i:
            samples.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": pct(samples, 50), "p95_ms": pct(samples, 95), "max_ms": max(samples), "reps": reps}


Calls = list[tuple[str, dict[str, Any]]]


def timed_calls() -> tuple[Calls, Calls]:
    """The measured requests: the 30-day drift report, and the 7-day analysis set (drift, quality,
    degradation, trend)."""
    end = START + timedelta(days=DAYS)
    week = end - timedelta(days=7)
    m = "/api/v1/models/bench"
    drift30: Calls = [(f"{m}/drift", {"start": iso(START), "end": iso(end)})]
    analysis7: Calls = [
        (f"{m}/{kind}", {"start": iso(week), "end": iso(end)}) for kind in ("drift", "quality", "degradation")
    ]
    analysis7.append((f"{m}/trend", {"metric": "accuracy", "start": iso(week), "end": iso(end)}))
    return drift30, analysis7


async def measure(url: str, rows: int, reps: int) -> None:
    db = await ensure_db(url, rows)
    drift30, analysis7 = timed_calls()
    out: dict[str, Any] = {"db": db, "load_avg_before": os.getloadavg()}
    server = Server(db)
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=600) as client:
            await server.ready(client)
            body = (await client.get(*drift30[0][:1], params=drift30[0][1])).json()
            out["drift30_features"] = len(body.get("features", []))
            out["drift30_drifted"] = sorted({f["feature"] for f in body.get("features", []) if f.get("drift")})
            out["drift30"] = await _time(client, reps, drift30)
            out["analysis7"] = await _time(client, reps, analysis7)
            for path, params in analysis7:
                out[f"analysis7_{path.rsplit('/', 1)[1]}"] = await _time(client, max(5, reps // 3), [(path, params)])
    finally:
        server.stop()
    out["load_avg_after"] = os.getloadavg()
    record("measure", out)


async def _sample(conn: asyncpg.Connection, lo: datetime, hi: datetime, share: float) -> dict[str, Any]:
    """A Bernoulli sample (each row with probability `share`) of the rows in [lo, hi) — uniform over time
    (a LIMIT would cut the scan, which runs in time order, short)."""
    import numpy as np

    rows = await conn.fetch(
        "SELECT num_features, cat_features FROM predictions WHERE time >= $1 AND time < $2 AND random() < $3",
        lo, hi, share)
    num = np.array([r["num_features"] for r in rows], dtype=np.float64)
    cat = np.array([r["cat_features"] for r in rows], dtype=str)
    cols: dict[str, Any] = {f"num_{j}": num[:, j] for j in range(N_NUMERIC)}
    cols.update({f"cat_{j}": cat[:, j] for j in range(N_CATEGORICAL)})
    return cols


async def evidently(url: str, rows: int, samples: list[int], runs: int, python: str) -> None:
    """Evidently's DataDriftPreset on uniform random samples of the same rows the 30-day drift report
    covers: reference = the baseline's days 1-2, current = all 30 days (each sample `n` rows of the
    current and n/4 of the reference)."""
    import numpy as np

    db = await ensure_db(url, rows)
    conn = await asyncpg.connect(db)
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(exist_ok=True)
    try:
        total = await conn.fetchval("SELECT count(*) FROM predictions")
        week = await conn.fetchval("SELECT count(*) FROM predictions WHERE time < $1", START + timedelta(days=REF_DAYS))
        for n in samples:
            m = max(n // 4, 1000)
            ref = await _sample(conn, START, START + timedelta(days=REF_DAYS), min(1.0, m / week))
            cur = await _sample(conn, START, START + timedelta(days=DAYS), min(1.0, n / total))
            path = out_dir / f"sample_{n}.npz"
            np.savez(path, **{f"ref_{k}": v for k, v in ref.items()}, **{f"cur_{k}": v for k, v in cur.items()})
            proc = subprocess.run([python, str(ROOT / "bench" / "evidently_run.py"), str(path), "--runs", str(runs)],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                record("evidently", {"sample": n, "error": proc.stderr[-3000:]})
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            record("evidently", {"db": db, "sample_current": n, "sample_reference": m, "full_current": total,
                                 "full_reference": week, **result})
    finally:
        await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=("load", "baseline", "measure", "evidently"))
    ap.add_argument("--samples", default="100000,1000000")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--evidently-python", default=str(ROOT / ".driftline" / "bench-venv" / "bin" / "python"))
    ap.add_argument("--url", default=os.environ.get("DRIFTLINE_DATABASE_URL", "postgresql://postgres@127.0.0.1:55700/postgres"))
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    if a.step == "load":
        asyncio.run(load(a.url, a.rows))
    elif a.step == "baseline":
        asyncio.run(baseline(a.url, a.rows))
    elif a.step == "evidently":
        asyncio.run(evidently(a.url, a.rows, [int(v) for v in a.samples.split(",")], a.runs, a.evidently_python))
    else:
        asyncio.run(measure(a.url, a.rows, a.reps))
    print(f"[bench] peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
