"""Drift benchmark: driftline from histograms / from raw samples vs Evidently 0.7's DataDriftPreset.

Not a test. 20 numeric + 5 categorical features, reference 100k rows, current windows of 100k and 1M
rows, seeded synthetic data in which some features drift. Every case runs in its own subprocess so
that its peak memory (``ru_maxrss``) is its own; the timed section is repeated and the median kept.

    .venv/bin/python bench/drift_bench.py   # all cases; writes bench/results/drift.json, prints the table
    .venv/bin/python bench/drift_bench.py --case raw --rows 100000 --runs 3   # one case, JSON on stdout

Evidently 0.7 does not import with pandas 3 (the project's venv), so its cases run under a separate
interpreter given by ``--evidently-python`` (default .driftline/bench-venv/bin/python, made by
``bench/evidently-venv.sh``: ``evidently==0.7.*`` and ``pandas<3``). Evidently is never a runtime dependency of driftline.

This module imports only numpy at the top so that the Evidently interpreter can run it too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
N_REFERENCE = 100_000
N_NUMERIC, N_CATEGORICAL = 20, 5
SEED = 20240605
# Ground truth. Numeric 0-4 drift (mean shift, scale change, shape change); numeric 5 has a tiny
# 0.02·σ shift that no one would act on; categorical 0-1 change their proportions.
DRIFTED_NUMERIC = {0, 1, 2, 3, 4}
DRIFTED_CATEGORICAL = {0, 1}
CATEGORY_SIZES = [2, 4, 8, 12, 20]


def numeric_column(j: int, n: int, current: bool, rng: np.random.Generator) -> np.ndarray:
    kind = j % 4
    if kind == 0:
        x = rng.normal(10.0, 2.0, n)
    elif kind == 1:
        x = rng.lognormal(0.0, 0.6, n)
    elif kind == 2:
        x = rng.uniform(-5.0, 5.0, n)
    else:
        x = rng.exponential(3.0, n)
    if current:
        std = float(np.std(x))
        if j == 0:
            x += 0.5 * std
        elif j == 1:
            x *= 1.6
        elif j == 2:
            x += 0.3 * std
        elif j == 3:
            x = np.where(rng.random(n) < 0.3, x + 2.0 * std, x)
        elif j == 4:
            x -= 0.25 * std
        elif j == 5:
            x += 0.02 * std
    if j % 7 == 6:  # a few features have missing values
        x[rng.random(n) < 0.01] = np.nan
    return x


def categorical_column(j: int, n: int, current: bool, rng: np.random.Generator) -> np.ndarray:
    k = CATEGORY_SIZES[j]
    weights = np.linspace(1.0, 2.0, k)
    if current and j in DRIFTED_CATEGORICAL:
        weights = weights[::-1] ** 2
    labels = np.array([f"c{i}" for i in range(k)])
    return labels[rng.choice(k, n, p=weights / weights.sum())]


def make_data(n: int, current: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([SEED, int(current), n])
    cols: dict[str, np.ndarray] = {}
    for j in range(N_NUMERIC):
        cols[f"num_{j}"] = numeric_column(j, n, current, rng)
    for j in range(N_CATEGORICAL):
        cols[f"cat_{j}"] = categorical_column(j, n, current, rng)
    return cols


def feature_types() -> dict[str, str]:
    types = {f"num_{j}": "numeric" for j in range(N_NUMERIC)}
    types.update({f"cat_{j}": "categorical" for j in range(N_CATEGORICAL)})
    return types


def truth() -> dict[str, bool]:
    out = {f"num_{j}": j in DRIFTED_NUMERIC for j in range(N_NUMERIC)}
    out.update({f"cat_{j}": j in DRIFTED_CATEGORICAL for j in range(N_CATEGORICAL)})
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- cases (each runs in its own process) ------------------------------------------------------


def case_hist(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray], runs: int) -> dict[str, Any]:
    from engine.algorithms.drift.binning import bin_counts, count_categories, quantile_edges
    from engine.algorithms.drift.dataset import dataset_drift

    types = feature_types()
    # Built once when the reference is registered; not part of a window's cost.
    edges = {name: quantile_edges(ref[name]) for name, t in types.items() if t == "numeric"}
    ref_h: dict[str, Any] = {
        name: bin_counts(ref[name], edges[name], with_sums=True)
        if t == "numeric"
        else count_categories(ref[name])
        for name, t in types.items()
    }
    totals, pure, result = [], [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        cur_h: dict[str, Any] = {
            name: bin_counts(cur[name], edges[name], with_sums=True)
            if t == "numeric"
            else count_categories(cur[name])
            for name, t in types.items()
        }
        t1 = time.perf_counter()
        result = dataset_drift(ref_h, cur_h, types)  # type: ignore[arg-type]
        t2 = time.perf_counter()
        totals.append(t2 - t0)
        pure.append(t2 - t1)
    assert result is not None
    return {
        "seconds": statistics.median(totals),
        "seconds_from_counts": statistics.median(pure),
        "runs": runs,
        "drifted": {name: r.drift_detected for name, r in result.features.items()},
    }


def case_raw(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray], runs: int) -> dict[str, Any]:
    from engine.algorithms.drift.dataset import dataset_drift

    types = feature_types()
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = dataset_drift(ref, cur, types)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
    assert result is not None
    return {
        "seconds": statistics.median(times),
        "runs": runs,
        "drifted": {name: r.drift_detected for name, r in result.features.items()},
    }


def case_evidently(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray], runs: int) -> dict[str, Any]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    types = feature_types()
    definition = DataDefinition(
        numerical_columns=[n for n, t in types.items() if t == "numeric"],
        categorical_columns=[n for n, t in types.items() if t == "categorical"],
    )
    times, values = [], {}
    for _ in range(runs):
        t0 = time.perf_counter()
        # Building the frames is part of Evidently's cost: it takes pandas, not arrays or counts.
        ref_ds = Dataset.from_pandas(pd.DataFrame(ref), data_definition=definition)
        cur_ds = Dataset.from_pandas(pd.DataFrame(cur), data_definition=definition)
        snapshot = Report([DataDriftPreset()]).run(cur_ds, ref_ds)
        values = snapshot.dict()
        times.append(time.perf_counter() - t0)
    drifted: dict[str, bool] = {}
    for metric in values.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold = float(metric["value"]), float(config["threshold"])
            # Evidently: p-value methods drift below the threshold, distances at or above it.
            drifted[config["column"]] = (
                value < threshold if "p_value" in config["method"] else value >= threshold
            )
    return {"seconds": statistics.median(times), "runs": runs, "drifted": drifted}


CASES = {"hist": case_hist, "raw": case_raw, "evidently": case_evidently}


def run_case(case: str, rows: int, runs: int) -> dict[str, Any]:
    ref, cur = make_data(N_REFERENCE, False), make_data(rows, True)
    data_mb = rss_mb()
    out = CASES[case](ref, cur, runs)
    out.update(case=case, rows=rows, data_rss_mb=data_mb, peak_rss_mb=peak_mb())
    return out


# --- driver ------------------------------------------------------------------------------------


def spawn(python: str, case: str, rows: int, runs: int) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--case", case, "--rows", str(rows), "--runs", str(runs)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return {"case": case, "rows": rows, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--evidently-python", default=str(Path(__file__).resolve().parents[1] / ".driftline/bench-venv/bin/python"))
    parser.add_argument("--evidently-runs-1m", type=int, default=3)
    parser.add_argument("--only", help="comma-separated cases to rerun, merged into bench/results/drift.json")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.rows, args.runs)))
        return

    out_dir = ROOT / "bench" / "results"
    previous = json.loads((out_dir / "drift.json").read_text()) if args.only else []
    only = set(args.only.split(",")) if args.only else set(CASES)
    results = [r for r in previous if r["case"] not in only]
    for rows in (100_000, 1_000_000):
        for case in [c for c in ("hist", "raw", "evidently") if c in only]:
            python = args.evidently_python if case == "evidently" else sys.executable
            runs = args.evidently_runs_1m if case == "evidently" and rows == 1_000_000 else args.runs
            res = spawn(python, case, rows, runs)
            print(json.dumps({k: v for k, v in res.items() if k != "drifted"}), flush=True)
            results.append(res)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "drift.json").write_text(json.dumps(results, indent=1) + "\n")
    print(render_report(results))  # pasted into bench/results/drift.md with the analysis


def render_report(results: list[dict[str, Any]]) -> str:
    """The measured figures as a markdown table, with ratios against Evidently and detection quality."""
    by = {(r["case"], r["rows"]): r for r in results}
    gold = truth()
    lines = [
        "| current rows | case | median s | runs | s from counts only | peak RSS MB | RSS of data MB "
        "| Evidently / this (time) | Evidently / this (peak) | detected (of 7 drifted) | false alarms (of 18) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rows in (100_000, 1_000_000):
        ev = by.get(("evidently", rows), {})
        for case in ("hist", "raw", "evidently"):
            r = by.get((case, rows))
            if r is None or "error" in r:
                lines.append(f"| {rows:,} | {case} | failed: {r.get('error') if r else 'not run'} |||||||||")
                continue
            drifted = r.get("drifted", {})
            hits = sum(bool(drifted.get(k)) for k, v in gold.items() if v)
            false = sum(bool(drifted.get(k)) for k, v in gold.items() if not v)
            ratio_t = ratio_m = "—"
            if case != "evidently" and "seconds" in ev:
                ratio_t = f"{ev['seconds'] / r['seconds']:.1f}×"
                ratio_m = f"{ev['peak_rss_mb'] / r['peak_rss_mb']:.1f}×"
            pure = f"{r['seconds_from_counts']:.3f}" if "seconds_from_counts" in r else "—"
            lines.append(
                f"| {rows:,} | {case} | {r['seconds']:.3f} | {r['runs']} | {pure} | {r['peak_rss_mb']:.0f} "
                f"| {r['data_rss_mb']:.0f} | {ratio_t} | {ratio_m} | {hits} | {false} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
