"""Ingest throughput of JSON batches through REST, before and after decoding large bodies in worker processes
(issue 11, finding 8), in one run.

Not a test. Three uvicorn servers (`--workers 1`, separate processes, each writing into its own fresh database
cloned from one migrated template):

  main        the code of branch `main` (`git archive main`, run with this venv): decode in a thread,
              conversion and validation in a thread, both holding the GIL.
  in-process  this tree with DRIFTLINE_DECODE_WORKERS=0: every body on the in-process path.
  offloaded   this tree with its defaults (2 spawned workers, bodies ≥ 256 KiB decoded, validated and
              encoded for COPY in a worker).

Rows are bench/ingest_bench.py's (binary model, score, latency, 20 numeric + 3 categorical features, 1–2
segment tags) as JSON objects. For each batch size the servers take turns, one request at a time (the order
rotates every round); each request is timed from the first byte sent to the answer. A prober process sends
`GET /health/live` to the server under load one request at a time; its longest wait is the loop stall seen
by other clients.

    .venv/bin/python bench/offload_bench.py                 # writes bench/results/offload.md
    .venv/bin/python bench/offload_bench.py --rounds 1 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import ingest_bench as ib  # noqa: E402

from engine.config import DEFAULT_DATABASE_URL  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
LIMIT = 256 * 1024 * 1024  # body and decoded-size limit of the servers (100k of these rows: ~70 MB of JSON)
PROBER = """
import sys, time, httpx
url = sys.argv[1]
with httpx.Client(timeout=60) as c:
    c.get(url)
    for line in sys.stdin:
        waits = []
        stop = time.monotonic() + float(line)
        while time.monotonic() < stop:
            t = time.perf_counter(); c.get(url); waits.append(time.perf_counter() - t); time.sleep(0.005)
        print(max(waits), len(waits), flush=True)
"""


def json_batches(frame: pl.DataFrame, size: int, count: int, prefix: str) -> list[bytes]:
    """`count` JSON bodies of `size` rows each, with prediction ids unique to `prefix`."""
    num = [f"x{j}" for j in range(ib.N_NUMERIC)]
    cat = [f"c{j}" for j in range(ib.N_CATEGORICAL)]
    out = []
    for b in range(count):
        part = frame.slice((b * size) % max(frame.height - size + 1, 1), size)
        rows = []
        for r in part.iter_rows(named=True):
            segs = {"region": r["region"]} | ({"arm": r["arm"]} if r["arm"] is not None else {})
            rows.append({"prediction_id": f"{prefix}-{b}-{r['prediction_id']}", "time": r["time"].isoformat(),
                         "score": r["score"], "latency_ms": r["latency_ms"], "segments": segs,
                         "features": {k: r[k] for k in num + cat}})
        out.append(json.dumps(rows).encode())
    return out


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    base: str
    prober: subprocess.Popen[str]
    times: dict[int, list[float]] = field(default_factory=dict)
    stalls: dict[int, list[float]] = field(default_factory=dict)


def start(name: str, url: str, cwd: Path, **env: str) -> Server:
    port = ib._free_port()
    environ = {**os.environ, "DRIFTLINE_DATABASE_URL": url, "DRIFTLINE_MAX_BODY_BYTES": str(LIMIT),
               "DRIFTLINE_MAX_DECODED_BYTES": str(LIMIT), "PYTHONPATH": str(cwd), **env}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "warning",
                             "--no-access-log"], cwd=cwd, env=environ)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name}: uvicorn exited with {proc.returncode}")
        try:
            if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    prober = subprocess.Popen([sys.executable, "-c", PROBER, base + "/health/live"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    return Server(name, proc, base, prober)


def post(server: Server, body: bytes, size: int, expect_s: float) -> None:
    """One timed request; the prober runs for about as long as the request takes."""
    assert server.prober.stdin is not None and server.prober.stdout is not None
    server.prober.stdin.write(f"{expect_s}\n")
    server.prober.stdin.flush()
    t = time.perf_counter()
    r = httpx.post(server.base + f"/api/v1/models/{ib.MODEL}/predictions", content=body,
                   headers={"content-type": "application/json"}, timeout=600)
    elapsed = time.perf_counter() - t
    assert r.status_code == 201 and r.json()["written"] == size, r.text[:500]
    server.times.setdefault(size, []).append(elapsed)
    server.stalls.setdefault(size, []).append(float(server.prober.stdout.readline().split()[0]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="requests per server and size (100k); 10k: ×3, 1k: ×10")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    cluster = os.environ.get("DRIFTLINE_DATABASE_URL", DEFAULT_DATABASE_URL)
    load_before = os.getloadavg()[0]
    frame = ib.generate(max(SIZES))
    main_src = Path(tempfile.mkdtemp(prefix="dl_main_"))
    subprocess.run(f"git -C {ROOT} archive main | tar -x -C {main_src}", shell=True, check=True)
    template = asyncio.run(ib.make_template(cluster))
    servers: list[Server] = []
    dbs: list[str] = []
    try:
        for name, cwd, env in (("main", main_src, {}), ("in-process", ROOT, {"DRIFTLINE_DECODE_WORKERS": "0"}),
                               ("offloaded", ROOT, {})):
            db, url = asyncio.run(ib.fresh_database(cluster, template, name))
            dbs.append(db)
            asyncio.run(ib.register(url))
            servers.append(start(name, url, cwd, **env))
        time.sleep(3)  # the offloaded server's workers are up
        for s in servers:  # warm-up: imports, pools, one body of each path
            for size in (1_000, 10_000):
                post(s, json_batches(frame, size, 1, f"w{size}{s.name}")[0], size, 0.5)
            s.times.clear()
            s.stalls.clear()
        for size in SIZES:
            count = args.rounds * {1_000: 10, 10_000: 3, 100_000: 1}[size]
            bodies = {s.name: json_batches(frame, size, count, f"{s.name}{size}") for s in servers}
            expect = {1_000: 0.1, 10_000: 0.5, 100_000: 4.0}[size]
            for i in range(count):
                for s in servers[i % 3:] + servers[:i % 3]:
                    post(s, bodies[s.name][i], size, expect)
            print(size, {s.name: round(sum(s.times[size]) / len(s.times[size]), 3) for s in servers}, flush=True)
    finally:
        for s in servers:
            s.prober.kill()
            s.proc.terminate()
            s.proc.wait()
        for db in [*dbs, template]:
            asyncio.run(ib._admin(cluster, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        shutil.rmtree(main_src, ignore_errors=True)
    lines = report(servers, args, load_before, os.getloadavg()[0], json_size=len(bodies[servers[0].name][0]))
    print("\n".join(lines))
    if not args.no_write:
        (ROOT / "bench" / "results" / "offload.md").write_text("\n".join(lines) + "\n")


def report(servers: list[Server], args: argparse.Namespace, before: float, after: float, json_size: int) -> list[str]:
    ref = servers[0]
    lines = ["# Large JSON bodies: ingest throughput and loop stalls, before/after the decode worker pool", "",
             f"`bench/offload_bench.py --rounds {args.rounds}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
             f"{os.cpu_count()} CPUs (shared), Python {platform.python_version()}; 1-minute load average "
             f"{before:.1f} before and {after:.1f} after the run. One request at a time per server, the three "
             "servers taking turns; rows/s = rows / mean request time; ratio against `main` in the same run; "
             f"longest probe wait = max over the requests of the longest `GET /health/live` wait during one. "
             f"A 100k-row body here is {json_size / 1e6:.0f} MB of JSON.", "",
             "| rows/batch | server | requests | mean s | rows/s | × main | longest probe wait (s) |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for size in SIZES:
        base = sum(ref.times[size]) / len(ref.times[size])
        for s in servers:
            mean = sum(s.times[size]) / len(s.times[size])
            lines.append(f"| {size:,} | {s.name} | {len(s.times[size])} | {mean:.3f} | {size / mean:,.0f} | "
                         f"{base / mean:.2f} | {max(s.stalls[size]):.3f} |")
    return lines


if __name__ == "__main__":
    main()
