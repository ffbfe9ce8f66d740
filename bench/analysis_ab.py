"""A/B timing of the analysis REST endpoints (issue 13): two code trees served side by side on the same
database and machine, requests interleaved (A, B, A, B, ...) so both see the same load. Not a test.

    .venv/bin/python bench/analysis_ab.py --base /path/to/main-checkout --reps 30

For each tree: p50 / p95 / max wall ms of the 30-day drift report (all features) and of the 7-day
analysis set (drift + quality + degradation + trend, sequential), each part alone, and the CPU time per
request of the API server process and of the PostgreSQL backends serving it (utime + stime from /proc,
clock ticks → ms). Appends one JSON line per run to `bench/results/analysis.jsonl` (step "ab").
The database must be loaded and have its baseline (`analysis_bench.py load` / `baseline`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.analysis_bench import pct, record, timed_calls

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def _cpu_ms(pid: int) -> float:
    """utime + stime of a process, ms (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def _peak_rss_mb(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of a live process, MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _socket_ports(pid: int) -> set[int]:
    """Local TCP ports of the sockets `pid` holds open (its database connections among them)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[9] in inodes:
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


class Tree:
    """`uvicorn --factory api.app:app_from_env` from one code tree (its own directory on sys.path)."""

    def __init__(self, name: str, root: Path, db: str, port: int) -> None:
        self.name, self.root, self.port = name, root, port
        env = {**os.environ, "DRIFTLINE_DATABASE_URL": db, "DRIFTLINE_POOL_MAX": "4", "DRIFTLINE_AUTH": "open", "PYTHONPATH": str(root)}
        cmd = [str(root / ".venv" / "bin" / "python"), "-m", "uvicorn", "--factory", "api.app:app_from_env",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL)
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600)

    async def ready(self) -> None:
        for _ in range(300):
            try:
                await self.client.get("/api/v1/models")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name}: server did not start")

    async def backends(self, admin: asyncpg.Connection, db: str) -> list[int]:
        ports = _socket_ports(self.proc.pid)
        rows = await admin.fetch("SELECT pid, client_port FROM pg_stat_activity WHERE datname = $1", db)
        return [r["pid"] for r in rows if r["client_port"] in ports]

    async def stop(self) -> None:
        await self.client.aclose()
        self.proc.terminate()
        self.proc.wait(timeout=30)


async def _one(tree: Tree, calls: list[tuple[str, dict[str, Any]]]) -> float:
    t = time.perf_counter()
    for path, params in calls:
        r = await tree.client.get(path, params=params)
        if r.status_code != 200:
            raise RuntimeError(f"{tree.name} {path}: {r.status_code} {r.text[:500]}")
    return (time.perf_counter() - t) * 1000


async def _phase(trees: list[Tree], admin: asyncpg.Connection, db: str, reps: int,
                 calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Interleaved samples; CPU of each server process and of its backends over its own requests."""
    for t in trees:  # warm-up (and the backends exist afterwards)
        await _one(t, calls)
    samples: dict[str, list[float]] = {t.name: [] for t in trees}
    cpu: dict[str, float] = dict.fromkeys(samples, 0.0)
    pg: dict[str, float] = dict.fromkeys(samples, 0.0)
    for i in range(reps):
        for t in trees[:: 1 if i % 2 == 0 else -1]:  # alternate who goes first
            pids = await t.backends(admin, db)
            c0, p0 = _cpu_ms(t.proc.pid), sum(_cpu_ms(p) for p in pids)
            samples[t.name].append(await _one(t, calls))
            cpu[t.name] += _cpu_ms(t.proc.pid) - c0
            pg[t.name] += sum(_cpu_ms(p) for p in pids) - p0
    return {
        name: {"p50_ms": pct(xs, 50), "p95_ms": pct(xs, 95), "max_ms": max(xs), "reps": reps,
               "api_cpu_ms_per_sample": cpu[name] / reps, "pg_cpu_ms_per_sample": pg[name] / reps}
        for name, xs in samples.items()
    }


async def run(url: str, base: Path, reps: int) -> None:
    db_name = url.rsplit("/", 1)[1]
    drift30, analysis7 = timed_calls()
    here = Path(__file__).resolve().parents[1]
    head = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False).stdout.strip()
    trees = [Tree("before", base, url, 18501), Tree("after", here, url, 18502)]
    admin = await asyncpg.connect(url)
    out: dict[str, Any] = {"db": url, "base": str(base), "after_commit": head, "load_avg_before": os.getloadavg()}
    try:
        for t in trees:
            await t.ready()
        bodies = [(await t.client.get(drift30[0][0], params=drift30[0][1])).json() for t in trees]
        out["drift30_same_body"] = bodies[0] == bodies[1]
        out["drift30_drifted"] = sorted(f["feature"] for f in bodies[1]["features"] if f["drift"])
        out["drift30"] = await _phase(trees, admin, db_name, reps, drift30)
        out["analysis7"] = await _phase(trees, admin, db_name, reps, analysis7)
        for call in analysis7:
            out[f"analysis7_{call[0].rsplit('/', 1)[1]}"] = await _phase(trees, admin, db_name, max(5, reps // 2), [call])
        out["server_peak_rss_mb"] = {t.name: _peak_rss_mb(t.proc.pid) for t in trees}
    finally:
        await admin.close()
        for t in trees:
            await t.stop()
    out["load_avg_after"] = os.getloadavg()
    record("ab", out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, type=Path, help="root of the code tree to compare against")
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:55700/driftline_bench_analysis_20000000")
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    asyncio.run(run(a.url, a.base, a.reps))


if __name__ == "__main__":
    main()
