"""Evidently 0.7's DataDriftPreset on a sample exported by `bench/analysis_bench.py evidently` (an .npz of
reference and current columns). Runs under the Evidently interpreter (`bench/evidently-venv.sh`: pandas < 3),
imports only numpy at the top, prints one JSON object: median seconds (building the pandas frames included,
as Evidently needs them), peak RSS of this process, the features it flagged.

    .driftline/bench-venv/bin/python bench/evidently_run.py bench/out/sample_1000000.npz --runs 2
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from typing import Any

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("npz")
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    data = np.load(a.npz)
    names = [k[4:] for k in data.files if k.startswith("ref_")]
    ref = {n: data[f"ref_{n}"] for n in names}
    cur = {n: data[f"cur_{n}"] for n in names}
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    definition = DataDefinition(
        numerical_columns=[n for n in names if n.startswith("num_")],
        categorical_columns=[n for n in names if n.startswith("cat_")],
    )
    times: list[float] = []
    values: dict[str, Any] = {}
    for _ in range(a.runs):
        t0 = time.perf_counter()
        ref_ds = Dataset.from_pandas(pd.DataFrame(ref), data_definition=definition)
        cur_ds = Dataset.from_pandas(pd.DataFrame(cur), data_definition=definition)
        values = Report([DataDriftPreset()]).run(cur_ds, ref_ds).dict()
        times.append(time.perf_counter() - t0)
    drifted = []
    for metric in values.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold = float(metric["value"]), float(config["threshold"])
            hit = value < threshold if "p_value" in config["method"] else value >= threshold
            if hit:
                drifted.append(config["column"])
    print(json.dumps({
        "seconds": statistics.median(times), "runs": a.runs, "times": times,
        "rows_reference": len(next(iter(ref.values()))), "rows_current": len(next(iter(cur.values()))),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_after_load_mb": rss_data,
        "drifted": sorted(drifted),
    }))


if __name__ == "__main__":
    main()
