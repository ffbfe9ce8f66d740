"""Client-side CPU per window read (the API process's share of a request: fetch decoding, merge, derivation,
assembly, JSON encoding), in process, for one checkout: `time.process_time` moves far less than wall time when
other processes load the machine, so two checkouts compare fairly even on a busy one. Not a test.

    .venv/bin/python bench/windows_cpu_ab.py <checkout root> points|columns <reps> [database URL]

(`columns` needs a checkout with `WindowsService.model_metric_columns`.) Database: a windows_bench one
(model `bench`, 30 days up to 2026-03-31), by default the 20M one. As the served process does, where the
checkout has them: the heap is kept for reuse (`api.heap.retain_heap`, default setting) and the point form is
built for encoding (`wire=True`). Cases a checkout cannot serve (filters, two keys) are skipped for it.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

END = datetime(2026, 3, 31, tzinfo=UTC)
START = END - timedelta(days=30)
DB_URL = "postgresql://postgres@127.0.0.1:55700/driftline_bench_20000000"
FIVE = ["count", "accuracy", "roc_auc", "log_loss", "latency_p95_ms"]
CASES: dict[str, tuple[str, list[str] | None, str | None, dict[str, str] | None]] = {
    "1h_5_region": ("1h", FIVE, "region", None),
    "1h_5": ("1h", FIVE, None, None),
    "1h_all": ("1h", None, None, None),
    "1h_count": ("1h", ["count"], None, None),
    "1m_count": ("1m", ["count"], None, None),
    "1h_all_region": ("1h", None, "region", None),
    "1h_all_eu": ("1h", None, None, {"region": "eu"}),
    "6h_all_version_region": ("6h", None, "version,region", None),
}


async def main(root: str, fmt: str, reps: int, url: str) -> None:
    sys.path.insert(0, root)  # the checkout measured, before any engine import
    db = importlib.import_module("engine.store.db")
    unit = importlib.import_module("engine.store.unit")
    windows = importlib.import_module("engine.services.windows")
    try:
        heap = importlib.import_module("api.heap")
        config = importlib.import_module("engine.config")
        heap.retain_heap(config.Settings().heap_retain_mb)
    except ImportError:
        pass
    wire = "wire" in inspect.signature(windows.WindowsService.model_metrics).parameters and fmt == "points"
    enc = msgspec.json.Encoder()
    pool = await db.create_pool(url, 1, 4)
    for tag, (g, metrics, group, filters) in CASES.items():
        cpu = []
        for _ in range(reps):
            async with unit.unit_from_pool(pool, share=False) as u:
                svc = windows.WindowsService(u)
                c0 = time.process_time()
                read: Any = svc.model_metric_columns if fmt == "columns" else svc.model_metrics
                try:
                    extra: dict[str, Any] = {"wire": True} if wire else {}
                    if filters:
                        extra["filters"] = filters
                    enc.encode(await read("bench", START, END, g, group, metrics, **extra))
                except Exception as e:  # a case this checkout cannot serve
                    print(f"{tag} {fmt}: skipped ({type(e).__name__})", flush=True)
                    break
                cpu.append(time.process_time() - c0)
        if not cpu:
            continue
        cpu.sort()
        print(f"{tag} {fmt}: cpu median {1000 * cpu[len(cpu) // 2]:.1f} ms min {1000 * cpu[0]:.1f} ms", flush=True)
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else DB_URL))
