"""Ingest benchmark: raw asyncpg COPY vs the engine's direct path vs SDK → REST → engine.

Not a test. The same seeded predictions (binary model with a score, latency, 20 numeric + 3 categorical
features, 1–2 segment tags) are generated once and written by each path into its own fresh database cloned
from one migrated template (same hypertable, same indexes, same triggers):

  raw     asyncpg `copy_records_to_table` into `predictions`, records pre-built outside the clock, in batches
          of --batch rows: the reference the ratios are taken against.
  raw-binary  the same rows as binary COPY data pre-encoded outside the clock (`copy_to_table`): what the
          server alone can take, with no client-side encoding at all.
  engine  `IngestService.log_predictions` with polars DataFrames of --batch rows, conversion and validation
          included.
  rest    `engine.sdk.Client` → uvicorn (`--workers 1`, a separate process) → the same service, polars frames
          sent as Arrow IPC in batches of --sdk-batch rows, one request at a time.
  rest-pipelined  the same with `engine.sdk.AsyncClient`, batches of --pipe-batch rows, --in-flight requests
          at a time (the server validates one batch while the database stores another).

    .venv/bin/python bench/ingest_bench.py                   # 1M rows, writes bench/results/ingest.md
    .venv/bin/python bench/ingest_bench.py --rows 100000 --no-write
    .venv/bin/python bench/ingest_bench.py --rows 200000 --profile engine   # cProfile of one path
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import platform
import pstats
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402

from engine.config import DEFAULT_DATABASE_URL  # noqa: E402
from engine.domain import NewFeature, NewModel  # noqa: E402
from engine.ingest.canonical import frame_to_canonical  # noqa: E402
from engine.ingest.copy_binary import prediction_copy_chunks  # noqa: E402
from engine.ingest.records import PREDICTION_COLUMNS  # noqa: E402
from engine.ingest.service import IngestService  # noqa: E402
from engine.ingest.validate import validate_predictions  # noqa: E402
from engine.sdk import AsyncClient, Client  # noqa: E402
from engine.services.models import ModelService  # noqa: E402
from engine.store import models_repo  # noqa: E402
from engine.store.db import create_pool  # noqa: E402
from engine.store.unit import unit_from_pool  # noqa: E402

SEED = 20261123
N_NUMERIC, N_CATEGORICAL = 20, 3
MODEL = "bench"
T0 = datetime(2026, 11, 23, tzinfo=UTC)
SPAN_US = 86_400 * 1_000_000  # one day of traffic
SEGMENTS = ["region", "arm"]
TARGETS = {"engine": 0.7, "rest": 0.4}
MIN_ENGINE_RATE = 100_000


# --------------------------------------------------------------------------------------------- data


def generate(n: int, seed: int = SEED) -> pl.DataFrame:
    """User-shaped predictions: features by plain name, segment tags as their own columns."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, SPAN_US, size=n))
    t0_us = int(T0.timestamp() * 1_000_000)
    cols: dict[str, Any] = {
        "prediction_id": "req-" + pl.Series(np.arange(n)).cast(pl.Utf8).str.pad_start(8, "0"),
        "time": pl.Series(t0_us + offsets).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "score": rng.uniform(size=n),
        "latency_ms": rng.gamma(2.0, 6.0, size=n),
    }
    x = rng.normal(size=(n, N_NUMERIC)) * (1 + np.arange(N_NUMERIC)) + np.arange(N_NUMERIC)
    for j in range(N_NUMERIC):
        cols[f"x{j}"] = x[:, j]
    for j, levels in enumerate([["free", "pro", "team"], ["ios", "android", "web", "api"],
                                [f"country_{k}" for k in range(25)]][:N_CATEGORICAL]):
        cols[f"c{j}"] = pl.Series(np.asarray(levels)[rng.integers(0, len(levels), size=n)])
    cols["region"] = pl.Series(np.asarray(["eu", "us", "apac"])[rng.integers(0, 3, size=n)])
    arm = pl.Series(np.where(rng.uniform(size=n) < 0.5, "a", "b"), dtype=pl.Utf8)
    tagged = pl.Series(rng.uniform(size=n) >= 0.4)  # 1 or 2 tags per row
    cols["arm"] = arm.zip_with(tagged, pl.Series([None] * n, dtype=pl.Utf8))
    return pl.DataFrame(cols)


def features() -> tuple[NewFeature, ...]:
    return tuple([NewFeature(f"x{j}", "numeric") for j in range(N_NUMERIC)] + [
        NewFeature(f"c{j}", "categorical") for j in range(N_CATEGORICAL)])


def raw_records(frame: pl.DataFrame, model_id: int, version_id: int, threshold: float) -> list[tuple[Any, ...]]:
    """COPY records for the raw path, built directly (not by the engine) and outside the clock."""
    segs = frame.select(
        pl.when(pl.col("arm").is_null())
        .then(pl.format('{{"region": "{}"}}', pl.col("region")))
        .otherwise(pl.format('{{"arm": "{}", "region": "{}"}}', pl.col("arm"), pl.col("region")))
    ).to_series().to_list()
    num = frame.select(pl.concat_list([f"x{j}" for j in range(N_NUMERIC)])).to_series().to_list()
    cat = frame.select(pl.concat_list([f"c{j}" for j in range(N_CATEGORICAL)])).to_series().to_list()
    score = frame["score"].to_list()
    pred = ["yes" if s >= threshold else "no" for s in score]
    n = frame.height
    return list(zip(frame["time"].to_list(), [model_id] * n, [version_id] * n, frame["prediction_id"].to_list(),
                    pred, [None] * n, score, [None] * n, frame["latency_ms"].to_list(), segs, num, cat,
                    [None] * n, [None] * n, [None] * n, strict=True))


# ------------------------------------------------------------------------------------------ databases


def _with_db(url: str, name: str) -> str:
    return url.rpartition("/")[0] + "/" + name


async def _admin(cluster: str, sql: str) -> None:
    conn = await asyncpg.connect(_with_db(cluster, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def make_template(cluster: str) -> str:
    name = f"dl_bench_tpl_{uuid.uuid4().hex[:8]}"
    await _admin(cluster, f"CREATE DATABASE {name}")
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", _with_db(cluster, name))
    await asyncio.to_thread(command.upgrade, cfg, "head")
    return name


async def fresh_database(cluster: str, template: str, path: str) -> tuple[str, str]:
    name = f"dl_bench_{path.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    await _admin(cluster, f"CREATE DATABASE {name} TEMPLATE {template}")
    return name, _with_db(cluster, name)


async def register(url: str) -> tuple[int, int, float]:
    pool = await create_pool(url, 1, 2)
    try:
        async with unit_from_pool(pool) as uow:
            svc = ModelService(uow)
            model = await svc.create_model(NewModel(MODEL, "binary", features(), class_labels=("no", "yes")))
            version = await svc.create_version(MODEL, "1", stage="production")
        return model.id, version.id, model.threshold
    finally:
        await pool.close()


async def count_rows(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        n: int = await conn.fetchval("SELECT count(*) FROM predictions")
        return n
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------------------- paths


@dataclass(frozen=True, slots=True)
class Timing:
    path: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


async def run_raw(url: str, frame: pl.DataFrame, batch: int) -> float:
    model_id, version_id, threshold = await register(url)
    records = raw_records(frame, model_id, version_id, threshold)
    conn = await asyncpg.connect(url)
    try:
        start = time.perf_counter()
        for i in range(0, len(records), batch):
            await conn.copy_records_to_table("predictions", records=records[i:i + batch], columns=PREDICTION_COLUMNS)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def run_raw_binary(url: str, frame: pl.DataFrame, batch: int) -> float:
    await register(url)
    pool = await create_pool(url, 1, 1)
    try:
        async with pool.acquire() as conn:
            model = await models_repo.get_model(conn, MODEL)
            version = await models_repo.get_version(conn, model, None)
            canonical, errors = frame_to_canonical(model, frame, SEGMENTS)
            canonical, more = validate_predictions(model, canonical)
            assert not errors and not more
            now = datetime.now(UTC)
            bodies = [b"".join(prediction_copy_chunks(model, version.id, canonical.slice(i, batch), now))
                      for i in range(0, frame.height, batch)]
            start = time.perf_counter()
            for body in bodies:
                await conn.copy_to_table("predictions", source=io.BytesIO(body), columns=PREDICTION_COLUMNS,
                                         format="binary")
            return time.perf_counter() - start
    finally:
        await pool.close()


async def run_engine(url: str, frame: pl.DataFrame, batch: int) -> float:
    await register(url)
    pool = await create_pool(url, 1, 2)
    try:
        async with unit_from_pool(pool) as uow:
            svc = IngestService(uow, max_batch_rows=batch)
            start = time.perf_counter()
            for i in range(0, frame.height, batch):
                result = await svc.log_predictions(MODEL, frame.slice(i, batch), segment_columns=SEGMENTS)
                assert result.written == min(batch, frame.height - i), result
            return time.perf_counter() - start
    finally:
        await pool.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_server(url: str, batch: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "DRIFTLINE_DATABASE_URL": url, "DRIFTLINE_MAX_BATCH_ROWS": str(max(batch, 100_000))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    import httpx

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        try:
            if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("uvicorn did not become ready within 30 s")


async def run_rest(url: str, frame: pl.DataFrame, batch: int, in_flight: int) -> float:
    proc, base = _start_server(url, batch)
    try:
        if in_flight == 1:
            with Client(base, batch_size=batch, timeout=300) as dl:
                dl.create_model(MODEL, "binary", features(), class_labels=["no", "yes"])
                dl.create_version(MODEL, "1", stage="production")
                start = time.perf_counter()
                summary = dl.log_predictions(MODEL, frame, segment_columns=SEGMENTS)
                seconds = time.perf_counter() - start
        else:
            async with AsyncClient(base, batch_size=batch, timeout=300, max_in_flight=in_flight) as adl:
                await adl.create_model(MODEL, "binary", features(), class_labels=["no", "yes"])
                await adl.create_version(MODEL, "1", stage="production")
                start = time.perf_counter()
                summary = await adl.log_predictions(MODEL, frame, segment_columns=SEGMENTS)
                seconds = time.perf_counter() - start
        assert summary.written == frame.height, summary.to_dict()
        return seconds
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ----------------------------------------------------------------------------------------------- main


def _profiled(fn: Callable[[], Any], out: Path) -> Any:
    prof = cProfile.Profile()
    prof.enable()
    try:
        return fn()
    finally:
        prof.disable()
        prof.dump_stats(out)
        pstats.Stats(str(out)).sort_stats("cumulative").print_stats(35)


async def _versions(cluster: str) -> tuple[str, str]:
    conn = await asyncpg.connect(_with_db(cluster, "postgres"))
    try:
        pg = await conn.fetchval("SHOW server_version")
        ts = await conn.fetchval("SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'")
        return str(pg), str(ts)
    finally:
        await conn.close()


def table(timings: dict[str, Timing]) -> list[str]:
    raw = timings.get("raw")
    lines = ["| path | rows | seconds | rows/s | × raw COPY | target |", "|---|---:|---:|---:|---:|---|"]
    for path, t in timings.items():
        ratio = f"{t.rate / raw.rate:.2f}" if raw else "–"
        target = ""
        if path == "engine":
            target = f"≥ {TARGETS['engine']}× and ≥ {MIN_ENGINE_RATE:,} rows/s"
        elif path.startswith("rest"):
            target = f"≥ {TARGETS['rest']}×"
        lines.append(f"| {path} | {t.rows:,} | {t.seconds:.2f} | {t.rate:,.0f} | {ratio} | {target} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000, help="rows per COPY / engine call")
    ap.add_argument("--sdk-batch", type=int, default=100_000, help="rows per SDK request")
    ap.add_argument("--pipe-batch", type=int, default=25_000, help="rows per request, rest-pipelined")
    ap.add_argument("--in-flight", type=int, default=2, help="requests in flight, rest-pipelined")
    ap.add_argument("--paths", default="raw,raw-binary,engine,rest,rest-pipelined")
    ap.add_argument("--cluster", default=os.environ.get("DRIFTLINE_DATABASE_URL") or DEFAULT_DATABASE_URL)
    ap.add_argument("--profile", choices=["raw", "raw-binary", "engine", "rest", "rest-pipelined"], help="cProfile this path (in-process part)")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/ingest.md")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    args = ap.parse_args()
    paths = [p for p in args.paths.split(",") if p]

    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    frame = generate(args.rows)
    print(f"generated {frame.height:,} rows × {frame.width} columns in {time.perf_counter() - t:.1f}s", flush=True)

    template = asyncio.run(make_template(args.cluster))
    created: list[str] = []
    timings: dict[str, Timing] = {}
    try:
        for path in paths:
            name, url = asyncio.run(fresh_database(args.cluster, template, path))
            created.append(name)

            def go(path: str = path, url: str = url) -> float:
                if path == "raw":
                    return asyncio.run(run_raw(url, frame, args.batch))
                if path == "raw-binary":
                    return asyncio.run(run_raw_binary(url, frame, args.batch))
                if path == "engine":
                    return asyncio.run(run_engine(url, frame, args.batch))
                if path == "rest":
                    return asyncio.run(run_rest(url, frame, args.sdk_batch, 1))
                return asyncio.run(run_rest(url, frame, args.pipe_batch, args.in_flight))

            seconds = _profiled(go, Path(f"/tmp/ingest_{path}.prof")) if args.profile == path else go()
            stored = asyncio.run(count_rows(url))
            assert stored == frame.height, f"{path}: {stored} rows stored, expected {frame.height}"
            timings[path] = Timing(path, frame.height, seconds)
            print(f"{path:>6}: {seconds:7.2f}s  {timings[path].rate:>10,.0f} rows/s", flush=True)
    finally:
        if not args.keep:
            for name in [*created, template]:
                asyncio.run(_admin(args.cluster, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    lines = table(timings)
    print("\n".join(lines))
    if args.no_write:
        return
    pg, ts = asyncio.run(_versions(args.cluster))
    header = [
        "# Ingest benchmark",
        "",
        f"`bench/ingest_bench.py --rows {args.rows} --batch {args.batch} --sdk-batch {args.sdk_batch} "
        f"--pipe-batch {args.pipe_batch} --in-flight {args.in_flight}`, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, PostgreSQL {pg}, TimescaleDB {ts}, polars {pl.__version__}; "
        f"1-minute load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after the run.",
        "",
        f"{args.rows:,} predictions of a binary model (score, latency, {N_NUMERIC} numeric + {N_CATEGORICAL} "
        "categorical features, 1–2 segment tags), seeded, generated once; each path writes into its own fresh "
        "database cloned from one migrated template (same hypertable, indexes and statement triggers).",
        "",
    ]
    out = ROOT / "bench" / "results" / "ingest.md"
    notes = out.read_text().split("<!-- notes -->", 1)[1] if out.exists() and "<!-- notes -->" in out.read_text() else ""
    out.write_text("\n".join([*header, *lines, "", "<!-- notes -->"]) + (notes or "\n"))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
