"""The analytics jobs endpoints over the read matrix's models (every task, every shape of data), in
databases of their own (the `served` fixture of test_read_matrix, instantiated for this module): a job over
each case's rows as a Parquet pair runs, and its windows metrics equal the REST read of the same range."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl
from litestar.testing import AsyncTestClient

from tests.api.read_matrix_data import Case
from tests.api.test_read_matrix import _ok, by_case, served

__all__ = ["served"]


def _parquet_pair(case: Case, root: Path) -> None:
    """The case's rows as the Parquet pair of an analytics job: the predictions as sent (with labels when the
    case has them, so they are duplicates of what is stored and change nothing), and the case's metric values
    under another name (`analytics_cost`: new rows, apart from the `cost` series already stored)."""
    cols: dict[str, Any] = {"prediction_id": [r.pid for r in case.rows],
                            "time": pl.Series([r.time for r in case.rows], dtype=pl.Datetime("us", "UTC"))}
    if case.task == "binary":
        cols["score"] = [r.score for r in case.rows]
    elif case.task == "multiclass":
        cols["probabilities"] = pl.Series([r.probabilities for r in case.rows], dtype=pl.List(pl.Float64))
    else:
        cols["prediction"] = [r.value for r in case.rows]
    if case.has("latency"):
        cols["latency_ms"] = [r.latency_ms for r in case.rows]
    if case.has("labels"):
        cols["label"] = pl.Series([r.label for r in case.rows],
                                  dtype=pl.Float64 if case.task == "regression" else pl.Utf8)
    if case.has("features"):
        cols["x"], cols["c"] = [r.x for r in case.rows], [r.c for r in case.rows]
    if case.has("segments"):
        cols["segment.region"] = [r.region for r in case.rows]
    root.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(cols).write_parquet(root / f"{case.name}_predictions.parquet")
    pl.DataFrame({"name": ["analytics_cost"] * len(case.metrics), "value": [v for _, v, _ in case.metrics],
                  "time": pl.Series([t for t, _, _ in case.metrics], dtype=pl.Datetime("us", "UTC")),
                  "tags": [json.dumps({"env": e}) for _, _, e in case.metrics]},
                 ).write_parquet(root / f"{case.name}_metrics.parquet")


@by_case
async def test_analytics_jobs(served: AsyncTestClient, case: Case) -> None:
    root = Path(served.app.state.settings.analytics.input_root)
    _parquet_pair(case, root)
    job_id = f"job-{case.name}"
    body = {"job_id": job_id, "model_name": case.name, "metrics_path": f"{case.name}_metrics.parquet",
            "predictions_path": f"{case.name}_predictions.parquet", "frequency": "hourly"}
    created = await served.post("/analytics/jobs", json=body)
    assert created.status_code == 201, created.text
    done = await _ok(served, "POST", f"/analytics/jobs/{job_id}/run")
    run = done["run"]
    assert run["status"] == "succeeded", run["error"]
    assert run["rows_ingested"] == len(case.metrics)  # the predictions are stored already: duplicates
    summary = done["result"]
    assert {(i["kind"], i["duplicates"]) for i in summary["ingest"]} == {("predictions", len(case.rows)),
                                                                          ("metrics", 0)}
    assert any(j["job_id"] == job_id for j in (await _ok(served, "GET", "/analytics/jobs"))["jobs"])
    assert (await _ok(served, "GET", f"/analytics/jobs/{job_id}"))["last_status"] == "succeeded"
    assert (await _ok(served, "GET", f"/analytics/jobs/{job_id}/runs"))["runs"][0]["id"] == run["id"]
    # the job's windows metrics are what the REST read answers for the same range and granularity
    out = Path(served.app.state.settings.analytics.output_path)
    metrics_doc = json.loads((out / f"{case.name}_metrics_{run['batch_id']}.json").read_text())
    rest = await _ok(served, "GET", f"/analytics/model/{case.name}/metrics",
                     params={"start": summary["start"], "end": summary["end"], "granularity": summary["granularity"]})
    assert metrics_doc["model_metrics"]["points"] == rest["points"]
    assert sum(p["values"]["count"] for p in rest["points"]) == len(case.rows)
    custom = {s["name"]: s for s in metrics_doc["custom_metrics"]}
    assert sum(p["count"] for p in custom["analytics_cost"]["points"]) == len(case.metrics)
    assert math.isclose(sum(p["sum"] for p in custom["analytics_cost"]["points"]),
                        sum(v for _, v, _ in case.metrics), rel_tol=1e-9)
