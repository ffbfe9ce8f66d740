"""Evidently 0.7's DataDriftPreset at full size, one column at a time (issue 13's ratio on *the same rows*).

Not a test. The 25-column frame of all 21.3M rows (1.33M reference + 20M current) does not fit Evidently in
the machine's memory (`bench/results/analysis.md`), but Evidently computes each column's drift on its own, so
the preset run column by column over every row is the same work split up: this script exports one column of
the bench database (`bench/analysis_bench.py load`) at a time, all rows, runs `bench/evidently_run.py` on it
under Evidently's own interpreter (`bench/evidently-venv.sh`) and appends one JSON line per column to
`bench/results/analysis.jsonl` (seconds, peak RSS of the Evidently process, verdict).

    .venv/bin/python bench/evidently_full.py --columns num_0,num_5,cat_0

`--driftline-reps N` first times driftline's 30-day drift report over REST on the same database (uvicorn, N
requests), so that each column's record carries the ratio measured in the same run, and the API server's
peak RSS beside Evidently's.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from analysis_bench import DAYS, REF_DAYS, RESULTS, START, Server, _time, ensure_db, timed_calls  # noqa: E402


async def _column(conn: asyncpg.Connection, column: str, lo: Any, hi: Any) -> np.ndarray:
    kind, j = column.split("_")
    expr = f"num_features[{int(j) + 1}]" if kind == "num" else f"cat_features[{int(j) + 1}]"
    buf = io.BytesIO()
    # the bench's own constant column names only (never request input)
    await conn.copy_from_query(f"SELECT {expr} FROM predictions WHERE time >= $1 AND time < $2", lo, hi,
                               output=buf, format="csv")
    buf.seek(0)
    frame = pd.read_csv(buf, header=None, engine="pyarrow",
                        dtype={0: "float64" if kind == "num" else "string"})
    col = frame[0]
    return col.to_numpy(dtype=np.float64, na_value=np.nan) if kind == "num" else col.to_numpy(dtype=str)


def _peak_rss_mb(pid: int) -> float | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


async def _driftline(db: str, reps: int) -> dict[str, Any]:
    """The 30-day drift report of every feature over REST: p50 / p95 ms and the server's peak RSS."""
    import httpx

    server = Server(db)
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=600) as client:
            await server.ready(client)
            timing = await _time(client, reps, timed_calls()[0])
            return {**timing, "server_peak_rss_mb": _peak_rss_mb(server.proc.pid)}
    finally:
        server.stop()


async def run(url: str, rows: int, columns: list[str], python: str, driftline_reps: int) -> None:
    from datetime import timedelta

    db = await ensure_db(url, rows)
    ours = await _driftline(db, driftline_reps) if driftline_reps else None
    conn = await asyncpg.connect(db)
    try:
        for column in columns:
            ref = await _column(conn, column, START, START + timedelta(days=REF_DAYS))
            cur = await _column(conn, column, START, START + timedelta(days=DAYS))
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"{column}.npz"
                np.savez(path, **{f"ref_{column}": ref, f"cur_{column}": cur})
                del ref, cur
                proc = subprocess.run([python, str(ROOT / "evidently_run.py"), str(path)],
                                      capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            record = {"step": "evidently_full_column", "column": column, "db": db,
                      "load_avg": os.getloadavg(), **result}
            if ours is not None:
                record["driftline_drift30"] = ours
                record["ratio_one_column_vs_p95"] = result["seconds"] * 1000 / ours["p95_ms"]
            with RESULTS.open("a") as f:
                f.write(json.dumps(record, default=str) + "\n")
            print(json.dumps(record, default=str))
    finally:
        await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--columns", default="num_0,num_5,cat_0")
    ap.add_argument("--evidently-python", default=str(ROOT.parent / ".driftline" / "bench-venv" / "bin" / "python"))
    ap.add_argument("--url", default=os.environ.get("DRIFTLINE_DATABASE_URL", "postgresql://postgres@127.0.0.1:55700/postgres"))
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--driftline-reps", type=int, default=0)
    a = ap.parse_args()
    asyncio.run(run(a.url, a.rows, a.columns.split(","), a.evidently_python, a.driftline_reps))


if __name__ == "__main__":
    main()
