"""The batch processor on real Parquet pairs (binary, multiclass, regression): the three outputs exist with
the seed's names, their numbers equal numpy / sklearn / scipy on the raw rows of the files, and a second
run of the same files writes nothing twice."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import numpy as np
import polars as pl
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, mean_absolute_error

from engine.services.analytics_jobs.batch import run_batch_job
from engine.services.baselines.service import BaselineService
from engine.store.unit import UnitOfWork
from tests.analytics_jobs.support import T0, in_bucket, load, settings, ts, write_pair
from tests.ingest.support import register_all

MODELS = ("churn", "iris", "price")


def _predicted(model_task: str, frame: pl.DataFrame, labels: list[str], threshold: float) -> list[object]:
    if model_task == "binary":
        return [labels[1] if s >= threshold else labels[0] for s in frame["score"].to_list()]
    return frame["prediction"].to_list()


async def _counts(conn: asyncpg.Connection) -> tuple[int, int, int]:
    row = await conn.fetchrow("SELECT (SELECT count(*) FROM predictions) p, (SELECT count(*) FROM metrics) m, "
                              "(SELECT count(*) FROM analysis_results) r")
    return row["p"], row["m"], row["r"]


@pytest.mark.parametrize("name", MODELS)
async def test_outputs_match_the_raw_rows_and_a_rerun_writes_nothing_twice(
    name: str, pool: asyncpg.Pool, uow: UnitOfWork, db_url: str, tmp_path: Path,
) -> None:
    models = await register_all(pool)
    model = models[name]
    pair = write_pair(tmp_path / "root", model, seed=11 + MODELS.index(name))
    cfg = settings(db_url, tmp_path / "root", tmp_path / "out", max_batch_rows=400)  # several chunks per file
    if name == "churn":  # drift against an active baseline (the others have none: skipped, said so)
        ref = pair.predictions.select([f.name for f in model.features])
        await BaselineService(uow).create_from_frame(name, "ref", ref)

    result = await run_batch_job(uow, cfg, "in/" + pair.metrics_path.name, str(pair.predictions_path), name)

    out = tmp_path / "out"
    b = result.batch_id
    expected = {f"{name}_metrics_{b}.json", f"{name}_predictions_{b}.json", f"batch_summary_{b}.json"}
    assert {p.name for p in out.iterdir()} == expected
    assert set(result.outputs) == expected
    assert result.rows_ingested == pair.predictions.height + pair.metrics.height
    assert result.window_size == 7 and result.outlier_threshold == 1.5

    metrics_doc = load(out / f"{name}_metrics_{b}.json")
    preds_doc = load(out / f"{name}_predictions_{b}.json")
    summary = load(out / f"batch_summary_{b}.json")
    assert summary["batch_id"] == b and summary["rows_ingested"] == result.rows_ingested
    assert ts(summary["start"]) == T0 and ts(summary["end"]) <= T0.replace(hour=12, minute=1)
    gran = metrics_doc["granularity"]
    assert gran == "5m"

    # windows metrics per bucket == sklearn on the file's rows of that bucket
    labels = list(model.class_labels or ())
    series = metrics_doc["model_metrics"]
    assert len(series["points"]) >= 100
    for point in series["points"]:
        rows = in_bucket(pair.predictions, ts(point["bucket"]), gran)
        values = point["values"]
        assert values["count"] == rows.height
        if model.task == "regression":
            assert values["mae"] == pytest.approx(mean_absolute_error(rows["label"], rows["prediction"]), rel=1e-9)
        else:
            pred = _predicted(model.task, rows, labels, model.threshold)
            assert values["accuracy"] == pytest.approx(accuracy_score(rows["label"].to_list(), pred), rel=1e-9)
    general = preds_doc["prediction_analytics"]
    for point in general["points"]:
        rows = in_bucket(pair.predictions, ts(point["bucket"]), gran)
        assert point["values"]["latency_mean_ms"] == pytest.approx(float(rows["latency_ms"].mean()), rel=1e-9)
        assert point["values"]["label_coverage"] == pytest.approx(1.0)
        if model.task == "binary":
            assert point["values"]["score_mean"] == pytest.approx(float(rows["score"].mean()), rel=1e-9)

    # custom metrics per bucket == numpy
    custom = {s["name"]: s for s in metrics_doc["custom_metrics"]}
    assert set(custom) == {"cost_usd", "gpu_util"}
    bucket_means: dict[str, list[tuple[float, float]]] = {}
    for metric, s in custom.items():
        raw = pair.metrics.filter(pl.col("name") == metric)
        assert sum(p["count"] for p in s["points"]) == raw.height
        for p in s["points"]:
            v = in_bucket(raw, ts(p["bucket"]), gran)["value"].to_numpy()
            assert p["count"] == v.size
            assert p["mean"] == pytest.approx(v.mean(), rel=1e-9)
            assert p["sum"] == pytest.approx(v.sum(), rel=1e-9)
            assert (p["min"], p["max"]) == (pytest.approx(v.min()), pytest.approx(v.max()))
            assert p["std"] == pytest.approx(v.std(ddof=0), rel=1e-6, abs=1e-9)
            days = (ts(p["bucket"]) - ts(metrics_doc["start"])).total_seconds() / 86400
            bucket_means.setdefault(metric, []).append((days, float(v.mean())))

    # trend (window_size = the points a trend needs) == scipy on the bucket means of the raw rows
    trend = next(t for t in metrics_doc["trends"] if t["metric"] == "cost_usd")
    x, y = np.array(bucket_means["cost_usd"]).T
    linear = next(t for t in trend["tests"] if t["method"] == "linear")
    assert linear["slope_per_day"] == pytest.approx(stats.linregress(x, y).slope, rel=1e-9)
    mk = next(t for t in trend["tests"] if t["method"] == "mann_kendall")
    assert mk["slope_per_day"] == pytest.approx(stats.theilslopes(y, x).slope, rel=1e-9)
    assert trend["min_samples"] == 7
    assert trend["direction"] == "increasing"  # a custom metric has no better side

    # IQR outliers with factor 1.5 == Tukey's fences on the bucket means
    anomalies = next(a for a in metrics_doc["anomalies"] if a["metric"] == "cost_usd")
    assert anomalies["method"] == "iqr" and anomalies["threshold"] == 1.5
    q1, q3 = np.percentile(y, [25, 75])
    outside = (y < q1 - 1.5 * (q3 - q1)) | (y > q3 + 1.5 * (q3 - q1))
    flagged = {ts(t) for t in anomalies["anomalies"]}
    buckets = [ts(p["bucket"]) for p in custom["cost_usd"]["points"]]
    assert flagged == {b for b, o in zip(buckets, outside, strict=True) if o}
    assert len(flagged) >= 2

    # data quality and drift over the same range
    assert preds_doc["quality"]["n"] == pair.predictions.height
    if name == "churn":
        assert preds_doc["drift"] is not None
        assert {f["feature"] for f in preds_doc["drift"]["features"]} == {f.name for f in model.features}
    else:
        assert preds_doc["drift"] is None
        assert any(a["analysis"] == "drift" and a["status"] == "skipped" for a in summary["analyses"])

    # the same files again: same batch id, nothing stored twice, the outputs overwritten in place
    before = await _counts(uow.conn)
    assert before[:2] == (pair.predictions.height, pair.metrics.height)
    again = await run_batch_job(uow, cfg, str(pair.metrics_path), "in/" + pair.predictions_path.name, name)
    assert again.batch_id == b
    assert again.rows_ingested == 0
    assert all(i.replayed_chunks > 0 and i.written == 0 for i in again.ingest)
    assert await _counts(uow.conn) == before
    assert {p.name for p in out.iterdir()} == expected
    assert load(out / f"{name}_metrics_{b}.json")["custom_metrics"] == metrics_doc["custom_metrics"]


async def test_unlabelled_predictions_and_a_different_file_get_another_batch(
    pool: asyncpg.Pool, uow: UnitOfWork, db_url: str, tmp_path: Path,
) -> None:
    models = await register_all(pool)
    pair = write_pair(tmp_path / "root", models["iris"], seed=5, n=300, labelled=False)
    cfg = settings(db_url, tmp_path / "root", tmp_path / "out")
    first = await run_batch_job(uow, cfg, "in/iris_metrics.parquet", "in/iris_predictions.parquet", "iris")
    doc = load(tmp_path / "out" / f"iris_metrics_{first.batch_id}.json")
    assert all(p["values"].get("accuracy") is None for p in doc["model_metrics"]["points"])
    accuracy_trend = next(t for t in doc["trends"] if t["metric"] == "accuracy")
    assert accuracy_trend["direction"] == "insufficient_data"
    pair.predictions.head(200).write_parquet(pair.predictions_path)
    second = await run_batch_job(uow, cfg, "in/iris_metrics.parquet", "in/iris_predictions.parquet", "iris")
    assert second.batch_id != first.batch_id
    assert second.rows_ingested == 0  # the 200 predictions are stored already; the metrics file's chunks replay
    assert len(list((tmp_path / "out").iterdir())) == 6
