"""Refresh lag under ingest with late data: how long after a batch is acknowledged do the windows show it?

Not a test. A writer ingests --rate rows/s (engine path, `IngestService.log_predictions`, batches every
--tick s) for --seconds; --late of the rows carry times scattered uniformly over the past --late-days days (the
rest are "now"), so each batch invalidates hundreds of scattered minutes. A refresher runs the worker's loop
(refresh, then sleep until --interval s after the tick started; `driftline worker`'s default is 30 s) on its
own connection. A batch's lag is the time from its commit to the end of the first refresh that started after
it (refresh takes its cutoff when it starts). After the ingest stops the refresher goes on until it has
covered the last batch ("caught up").

    .venv/bin/python bench/refresh_lag_bench.py                     # 10k rows/s, 75 s, writes bench/results/refresh_lag.md
    .venv/bin/python bench/refresh_lag_bench.py --interval 10 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import MODEL, fresh_database, generate, make_template, register  # noqa: E402
from engine.config import DEFAULT_DATABASE_URL  # noqa: E402
from engine.ingest.service import IngestService  # noqa: E402
from engine.rollups.refresher import refresh  # noqa: E402
from engine.store.db import create_pool  # noqa: E402
from engine.store.unit import unit_from_pool  # noqa: E402


@dataclass
class Run:
    batches: list[tuple[float, int]] = field(default_factory=list)  # (commit time, rows)
    refreshes: list[tuple[float, float, int, int]] = field(default_factory=list)  # (start, end, records, minutes)
    ingest_end: float = 0.0


async def writer(pool: object, frame: pl.DataFrame, args: argparse.Namespace, run: Run, t0: float) -> None:
    rng = np.random.default_rng(7)
    per_tick = int(args.rate * args.tick)
    offset = 0
    async with unit_from_pool(pool) as uow:  # type: ignore[arg-type]
        svc = IngestService(uow)
        k = 0
        while time.monotonic() - t0 < args.seconds:
            due = t0 + k * args.tick
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            batch = frame.slice(offset, per_tick)
            offset += per_tick
            now = datetime.now(UTC)
            late = rng.random(batch.height) < args.late
            back = rng.uniform(0, args.late_days * 86_400, batch.height)
            times = [now - timedelta(seconds=float(b)) if is_late else now for b, is_late in zip(back, late, strict=True)]
            batch = batch.with_columns(pl.Series("time", times, dtype=pl.Datetime("us", "UTC")))
            await svc.log_predictions(MODEL, batch, version="1", segment_columns=["region", "arm"])
            run.batches.append((time.monotonic(), batch.height))
            k += 1
    run.ingest_end = time.monotonic()


async def refresher(pool: object, args: argparse.Namespace, run: Run, stop: asyncio.Event) -> None:
    while True:
        started = time.monotonic()
        async with unit_from_pool(pool, share=False) as uow:  # type: ignore[arg-type]
            report = await refresh(uow)
        ended = time.monotonic()
        run.refreshes.append((started, ended, report.records, report.minutes))
        if stop.is_set() and run.batches and started > run.batches[-1][0]:
            return
        await asyncio.sleep(max(0.0, args.interval - (ended - started)))


def lags(run: Run) -> list[float]:
    out = []
    for commit, _ in run.batches:
        end = next((e for s, e, _, _ in run.refreshes if s > commit), None)
        out.append(float("nan") if end is None else end - commit)
    return out


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    cluster = args.database_url
    template = await make_template(cluster)
    _, url = await fresh_database(cluster, template, "lag")
    await register(url)
    frame = generate(int(args.rate * args.seconds * 1.1) + 1)
    pool = await create_pool(url, 2, 4)
    run = Run()
    stop = asyncio.Event()
    try:
        t0 = time.monotonic()
        ref = asyncio.create_task(refresher(pool, args, run, stop))
        await writer(pool, frame, args, run, t0)
        stop.set()
        await ref
    finally:
        await pool.close()
    lag = np.array(lags(run))
    rows = sum(n for _, n in run.batches)
    durations = [e - s for s, e, _, _ in run.refreshes]
    return {
        "rate_target": args.rate, "seconds": args.seconds, "late_fraction": args.late, "late_days": args.late_days,
        "interval": args.interval, "rows": rows, "rate_achieved": rows / (run.ingest_end - run.batches[0][0] + args.tick),
        "lag_median": float(np.median(lag)), "lag_p95": float(np.quantile(lag, 0.95)), "lag_max": float(lag.max()),
        "caught_up_after_ingest_s": run.refreshes[-1][1] - run.ingest_end,
        "refresh_seconds": [round(d, 2) for d in durations],
        "refresh_records": [r for _, _, r, _ in run.refreshes], "refresh_minutes": [m for _, _, _, m in run.refreshes],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--seconds", type=float, default=75)
    p.add_argument("--tick", type=float, default=0.5)
    p.add_argument("--late", type=float, default=0.1)
    p.add_argument("--late-days", type=float, default=7)
    p.add_argument("--interval", type=float, default=30)
    p.add_argument("--database-url", default=os.environ.get("DRIFTLINE_DATABASE_URL", DEFAULT_DATABASE_URL))
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=1))
    if not args.no_write:
        out = ROOT / "bench" / "results" / "refresh_lag.md"
        with out.open("a") as f:
            f.write(f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {platform.node()}, load {os.getloadavg()[0]:.1f}\n\n")
            f.write("```json\n" + json.dumps(result, indent=1) + "\n```\n")


if __name__ == "__main__":
    main()
