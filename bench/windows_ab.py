"""Before/after of the REST window reads on one database: two checkouts served side by side by uvicorn, the
same requests alternated between them (before, after, after, before, ...), so whatever else loads the
machine loads both equally. Prints p50 / p95 per case and side and the after/before ratios, checks that
both sides answer the same series, and writes JSON. Not a test.

    git worktree add --detach /tmp/before <rev>
    .venv/bin/python bench/windows_ab.py --before /tmp/before --after . \\
        --db postgresql://postgres@127.0.0.1:55700/driftline_bench_20000000 --out bench/results/windows_ab.json

The database is one `bench/windows_bench.py --keep` loaded (model `bench`, 30 days from START).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.windows_bench import CASES, END, START, _free_port, pct


def _serve(root: Path, db: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "DRIFTLINE_DATABASE_URL": db, "DRIFTLINE_POOL_MAX": "4"}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--host", "127.0.0.1"]
    proc = subprocess.Popen([*cmd, "--port", str(port), "--log-level", "warning"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL)
    return proc, port


async def _ready(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            await client.get("/health/live")
            return
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


def as_points(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A `format=columns` answer unrolled to points (bucket, group, values, error bounds), bucket by bucket
    as the point form orders them; a point answer's points as they are."""
    if "points" in body:
        return list(body["points"])
    out = []
    for order, s in enumerate(body["series"]):
        for i, t in enumerate(s["time"]):
            out.append({"bucket": t, "group": s["group"], "order": order,
                        "values": {m: v[i] for m, v in s["values"].items()},
                        "error_bounds": {m: v[i] for m, v in s["error_bounds"].items() if v[i] is not None}})
    out.sort(key=lambda p: (p["bucket"], p["order"]))
    return out


def _same_series(a: dict[str, Any], b: dict[str, Any], what: str) -> None:
    """Both answers hold the same points: buckets and groups, and every value to 1e-9 (relative)."""
    pa, pb = as_points(a), as_points(b)
    assert len(pa) == len(pb), f"{what}: {len(pa)} vs {len(pb)} points"
    for x, y in zip(pa, pb, strict=True):
        assert x["group"] == y["group"], what
        assert x["bucket"].replace("+00:00", "Z") == y["bucket"].replace("+00:00", "Z"), what
        for part in ("values", "error_bounds"):
            for k, v in x[part].items():
                w = y[part].get(k)
                if v is None and k not in y[part]:
                    continue  # absent in one form, null in the other
                if v is None or w is None:
                    assert v == w, f"{what} {x['bucket']} {part}.{k}: {v} vs {w}"
                else:
                    assert math.isclose(v, w, rel_tol=1e-9, abs_tol=1e-12), f"{what} {part}.{k}: {v} vs {w}"


async def run(before: Path, after: Path, db: str, reps: int, all_cases: bool = False,
              after_params: dict[str, str] | None = None, only: tuple[str, ...] = ()) -> dict[str, Any]:
    procs = [_serve(before, db), _serve(after, db)]
    out: dict[str, Any] = {"before": str(before), "after": str(after), "reps_1h": reps}
    try:
        clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) for _, port in procs]
        for c in clients:
            await _ready(c)
        base = {"start": START.isoformat(), "end": END.isoformat()}
        for c in clients:  # warm-up
            for _ in range(3):
                (await c.get("/api/v1/models/bench/windows/metrics", params={**base, "granularity": "1h"})).raise_for_status()
        for case in CASES:
            level, metrics, group = case[:3]
            extra: dict[str, str] = case[3] if len(case) > 3 else {}  # type: ignore[misc]
            if (extra or (group and "," in group)) and not all_cases:
                continue  # a parameter older code may not know: compare only what both sides serve
            params = {**base, "granularity": level, **({"metrics": metrics} if metrics else {}),
                      **({"group_by": group} if group else {}), **extra}
            tag = f"{level}_{'all' if metrics is None else len(metrics.split(','))}metrics"
            tag += f"_by_{group.replace(',', '_')}" if group else ""
            tag += str(case[4]) if len(case) > 4 else ""
            if only and not any(o in tag for o in only):
                continue
            n = max(3, reps // 10) if level == "1m" else reps
            times: list[list[float]] = [[], []]
            bodies: list[dict[str, Any]] = [{}, {}]
            for i in range(n):
                order = (0, 1) if i % 2 == 0 else (1, 0)
                for side in order:
                    t = time.perf_counter()
                    extra_after = (after_params or {}) if side == 1 else {}
                    r = await clients[side].get("/api/v1/models/bench/windows/metrics", params={**params, **extra_after})
                    times[side].append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
                    bodies[side] = r.json()
            _same_series(bodies[0], bodies[1], tag)
            row = {"points": len(as_points(bodies[1]))}
            for side, name in ((0, "before"), (1, "after")):
                row[f"{name}_p50_ms"] = pct(times[side], 50)
                row[f"{name}_p95_ms"] = pct(times[side], 95)
            row["ratio_p50"] = row["after_p50_ms"] / row["before_p50_ms"]
            row["ratio_p95"] = row["after_p95_ms"] / row["before_p95_ms"]
            out[tag] = row
            print(f"{tag:32s} {row['points']:>6} pts  before {row['before_p50_ms']:8.1f} / {row['before_p95_ms']:8.1f}"
                  f"  after {row['after_p50_ms']:8.1f} / {row['after_p95_ms']:8.1f} ms"
                  f"  ratio {row['ratio_p50']:.2f} / {row['ratio_p95']:.2f}", flush=True)
        for c in clients:
            await c.aclose()
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(timeout=30)
    out["load_average_end"] = os.getloadavg()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, required=True, help="checkout root of the 'before' code")
    ap.add_argument("--after", type=Path, required=True, help="checkout root of the 'after' code")
    ap.add_argument("--db", required=True, help="database URL of a loaded windows_bench database")
    ap.add_argument("--reps", type=int, default=40, help="requests per side for the 1h cases (1m: a tenth)")
    ap.add_argument("--all-cases", action="store_true", help="also cases with parameters older code may not know")
    ap.add_argument("--after-params", default="", help="query parameters only the 'after' side gets, e.g. "
                    "format=columns (its answers are compared with the 'before' ones all the same)")
    ap.add_argument("--only", default="", help="run only the cases whose tag contains one of these (comma-separated)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    extra = dict(p.split("=", 1) for p in args.after_params.split(",") if p)
    out = asyncio.run(run(args.before.resolve(), args.after.resolve(), args.db, args.reps, args.all_cases, extra,
                          tuple(o for o in args.only.split(",") if o)))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
