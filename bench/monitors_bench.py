"""Monitors benchmark: one full scheduler cycle of 100 models × 25 features with hourly monitors (drift +
quality + degradation), and ingest-to-result latency with 1-minute windows. Not a test; results go to
bench/results/monitors.md.

    .venv/bin/python bench/monitors_bench.py --url postgresql://postgres@127.0.0.1:55432/postgres

Creates (and drops, unless --keep) its own database `driftline_bench_monitors` on the cluster, migrates it,
registers the models (binary, 25 numeric features), loads per model 2,000 labelled reference rows (the day
before) and 1,000 labelled rows in the last full hour (every fourth model shifted), builds a baseline per
model (which gives each model its default monitor: hourly, drift + quality + degradation), refreshes the
windows once, then starts `driftline worker` processes (real subprocesses, default settings: a tick a
minute, 2 jobs at a time each) and measures:
- the cycle: from the tick that queues the 100 windows to the last run stored; the sum of the runs' own
  durations; the database time (pg_stat_database.active_time: time its backends spent executing statements)
  and CPU seconds of the database server's processes (this cluster's postmaster children) and of the worker
  processes over the cycle; the machine's load average (it is shared);
- latency: a further model with a 1-minute monitor gets 20 predictions every 2 s, stamped with the time
  they are written; for each row, the time from its write to the stored results of its window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402

from engine.domain import ModelSpec, NewFeature, NewModel  # noqa: E402
from engine.rollups.refresher import refresh  # noqa: E402
from engine.services.baselines.service import BaselineService  # noqa: E402
from engine.services.models import ModelService  # noqa: E402
from engine.services.monitors.service import MonitorService  # noqa: E402
from engine.services.monitors.spec import AnalysisSpec, MonitorBody  # noqa: E402
from engine.store.unit import unit_from_pool  # noqa: E402
from tests.conftest import alembic_config  # noqa: E402

COLUMNS = ("time", "model_id", "version_id", "prediction_id", "predicted_class", "score", "num_features",
           "label_class")
N_FEATURES = 25
TICK = os.sysconf("SC_CLK_TCK")


def _db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def rows(model: ModelSpec, version_id: int, rng: np.random.Generator, start: datetime, seconds: float, n: int,
         shift: float, prefix: str, stamp: datetime | None = None) -> list[tuple]:
    x = rng.normal(shift, 1.0, size=(n, N_FEATURES))
    score = 1 / (1 + np.exp(-(x[:, 0] + x[:, 1])))
    label = rng.random(n) < score
    t = [stamp or start + timedelta(seconds=float(s)) for s in rng.uniform(0, seconds, n)]
    return [(t[i], model.id, version_id, f"{prefix}-{i}", "yes" if score[i] >= 0.5 else "no", float(score[i]),
             [float(v) for v in x[i]], "yes" if label[i] else "no") for i in range(n)]


async def setup(url: str, n_models: int, hour_end: datetime) -> list[ModelSpec]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    models = []
    rng = np.random.default_rng(14)
    feats = tuple(NewFeature(f"f{i}", "numeric") for i in range(N_FEATURES))
    t0 = time.perf_counter()
    async with unit_from_pool(pool) as uow:
        svc = ModelService(uow)
        for i in range(n_models + 1):
            name = f"m{i:03d}" if i < n_models else "live"
            m = await svc.create_model(NewModel(name, "binary", feats, ("no", "yes")))
            v = await svc.create_version(name, "v1", "production")
            models.append((m, v.id))
    async with pool.acquire() as conn:
        for i, (m, vid) in enumerate(models):
            await conn.copy_records_to_table("predictions", columns=COLUMNS, records=rows(
                m, vid, rng, hour_end - timedelta(hours=26), 24 * 3600, 2000, 0.0, "ref"))
            if m.name != "live":
                await conn.copy_records_to_table("predictions", columns=COLUMNS, records=rows(
                    m, vid, rng, hour_end - timedelta(hours=1), 3600, 1000, 0.3 if i % 4 == 0 else 0.0, "cur"))
    print(f"loaded {len(models)} models in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    async with unit_from_pool(pool) as uow:
        for m, _ in models:
            await BaselineService(uow).create_from_range(m.name, "ref", hour_end - timedelta(hours=26),
                                                         hour_end - timedelta(hours=2))
        await MonitorService(uow).create("live", MonitorBody(
            "minutely", (AnalysisSpec("drift"), AnalysisSpec("quality"), AnalysisSpec("degradation")),
            window="1m", every="1m", min_samples=1))
    print(f"baselines in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    async with unit_from_pool(pool) as uow:
        await refresh(uow)
    print(f"windows refreshed in {time.perf_counter() - t0:.1f} s", flush=True)
    # the hourly monitors ran up to the hour before: the next tick queues exactly the last full hour; the
    # 1-minute monitor starts with the latency phase
    await pool.execute("UPDATE monitors SET scheduled_until = $1 WHERE name = 'default'", hour_end - timedelta(hours=1))
    await pool.execute("UPDATE monitors SET enabled = false WHERE name = 'minutely'")
    await pool.close()
    return [m for m, _ in models]


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two samples; a process that appeared in between counts from its start (one that
    ended in between is lost: the pools keep their connections, so there are few)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def server_pids(data_dir: Path) -> list[int]:
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    out = [postmaster]
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == postmaster:
                out.append(int(p.name))
    return out


async def wait(pool: asyncpg.Pool, sql: str, want: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pool.fetchval(sql) >= want:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(sql)


async def measure(url: str, data_dir: Path, workers: int, n_models: int, latency_s: float) -> dict:
    env = {**os.environ, "DRIFTLINE_DATABASE_URL": url}
    procs = [subprocess.Popen([sys.executable, "-m", "engine.cli.main", "worker", "--interval", "30"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    out: dict = {}
    try:
        # the cycle: wait for the tick that queues the hourly windows
        await wait(pool, "SELECT count(*) FROM monitor_runs WHERE trigger = 'schedule'", n_models, 120)
        active = "SELECT active_time FROM pg_stat_database WHERE datname = current_database()"
        db0, w0 = cpu_by_pid(server_pids(data_dir)), cpu_by_pid([p.pid for p in procs])
        active0 = await pool.fetchval(active)
        await wait(pool, "SELECT count(*) FROM monitor_runs WHERE status IN ('succeeded', 'no_data', 'failed')",
                   n_models, 600)
        db1, w1 = cpu_by_pid(server_pids(data_dir)), cpu_by_pid([p.pid for p in procs])
        await asyncio.sleep(2)  # the backends report their statement time when idle, about once a second
        active1 = await pool.fetchval(active)
        r = await pool.fetchrow(
            "SELECT min(queued_at) AS q, max(finished_at) AS f, sum(duration_s) AS d, avg(duration_s) AS a, "
            "max(duration_s) AS mx, count(*) FILTER (WHERE status = 'succeeded') AS ok, "
            "count(DISTINCT worker) AS workers, sum(rows_read) AS rows FROM monitor_runs")
        results = await pool.fetchval("SELECT count(*) FROM analysis_results WHERE run_key = 'monitor:default'")
        out["cycle"] = {"wall_s": (r["f"] - r["q"]).total_seconds(), "sum_run_s": r["d"], "mean_run_s": r["a"],
                        "max_run_s": r["mx"], "succeeded": r["ok"], "workers_used": r["workers"],
                        "rows_read": r["rows"], "result_rows": results,
                        "db_cpu_s": cpu_delta(db0, db1), "worker_cpu_s": cpu_delta(w0, w1),
                        "db_active_s": (active1 - active0) / 1000.0, "load_avg_1m": os.getloadavg()[0]}
        print(json.dumps(out["cycle"], default=str), flush=True)
        # latency with 1-minute windows
        live = await pool.fetchrow("SELECT m.id, v.id AS vid FROM models m JOIN model_versions v ON v.model_id = m.id "
                                   "WHERE m.name = 'live'")
        spec = ModelSpec(live["id"], "live", "binary", ("no", "yes"), 0.5, (), "", datetime.now(UTC), ())
        now = datetime.now(UTC)
        await pool.execute("UPDATE monitors SET enabled = true, scheduled_until = $1 WHERE name = 'minutely'",
                           now.replace(second=0, microsecond=0))
        rng = np.random.default_rng(7)
        written: list[datetime] = []
        t_end = time.monotonic() + latency_s
        k = 0
        while time.monotonic() < t_end:
            stamp = datetime.now(UTC)
            async with pool.acquire() as conn:
                await conn.copy_records_to_table("predictions", columns=COLUMNS, records=rows(
                    spec, live["vid"], rng, stamp, 0, 20, 0.0, f"live{k}", stamp=stamp))
            written.append(stamp)
            k += 1
            await asyncio.sleep(2.0)
        last_window_end = written[-1].replace(second=0, microsecond=0) + timedelta(minutes=1)
        await wait(pool, "SELECT count(*) FROM monitor_runs r JOIN monitors m ON m.id = r.monitor_id WHERE "
                   f"m.name = 'minutely' AND r.status <> 'queued' AND r.status <> 'running' AND r.window_end >= "
                   f"'{last_window_end.isoformat()}'", 1, 180)
        done = {r["window_end"]: r["computed"] for r in await pool.fetch(
            "SELECT window_end, max(computed_at) AS computed FROM analysis_results WHERE run_key = 'monitor:minutely' "
            "AND analysis = 'drift' GROUP BY window_end")}
        lat = []
        lag = []
        for stamp in written:
            end = stamp.replace(second=0, microsecond=0) + timedelta(minutes=1)
            if end in done:
                lat.append((done[end] - stamp).total_seconds())
        for end, computed in done.items():
            lag.append((computed - end).total_seconds())
        # where the time after a window's end goes: end → its run queued (the tick), queued → started (a worker
        # fetched the monitor's job), started → finished (the analyses)
        steps = await pool.fetch(
            "SELECT extract(epoch FROM r.queued_at - r.window_end) AS tick_s, "
            "extract(epoch FROM r.started_at - r.queued_at) AS fetch_s, "
            "extract(epoch FROM r.finished_at - r.started_at) AS run_s FROM monitor_runs r "
            "JOIN monitors m ON m.id = r.monitor_id WHERE m.name = 'minutely' AND r.finished_at IS NOT NULL")
        out["latency_steps"] = {k: {"mean_s": statistics.mean(float(x[k]) for x in steps),
                                    "max_s": max(float(x[k]) for x in steps)} for k in ("tick_s", "fetch_s", "run_s")}
        print(json.dumps(out["latency_steps"]), flush=True)
        out["latency"] = {"batches": len(written), "measured": len(lat), "windows": len(done),
                          "mean_s": statistics.mean(lat), "p50_s": statistics.median(lat),
                          "p95_s": sorted(lat)[int(0.95 * (len(lat) - 1))], "max_s": max(lat),
                          "window_end_to_result_mean_s": statistics.mean(lag), "window_end_to_result_max_s": max(lag)}
        print(json.dumps(out["latency"]), flush=True)
    finally:
        await pool.close()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("DRIFTLINE_DATABASE_URL", "postgresql://postgres@127.0.0.1:55432/postgres"))
    ap.add_argument("--data-dir", type=Path, default=ROOT / ".driftline" / "pg", help="the cluster's data directory")
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--latency-seconds", type=float, default=180)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    name = "driftline_bench_monitors"
    admin = await asyncpg.connect(_db(args.url, "postgres"))
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {name}")
    url = _db(args.url, name)
    try:
        c = await asyncpg.connect(url)
        await c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        await c.close()
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        hour_end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        await setup(url, args.models, hour_end)
        result = await measure(url, args.data_dir, args.workers, args.models, args.latency_seconds)
        result["params"] = {"models": args.models, "features": N_FEATURES, "workers": args.workers,
                            "concurrency_per_worker": 2, "rows_per_window": 1000, "reference_rows": 2000}
        out = ROOT / "bench" / "results" / "monitors.json"
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"wrote {out}")
    finally:
        if not args.keep:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
