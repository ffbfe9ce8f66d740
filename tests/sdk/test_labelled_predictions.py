"""Predictions that arrive with their labels (`label`, `label_time`) in one atomic call — a file through the
CLI, JSON / Arrow / Parquet bodies over REST, a frame through the SDK: the window metrics over those rows
equal sklearn's on the same rows, the label delay is the rows' own, and one bad label refuses the whole
batch with nothing stored."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
from sklearn import metrics as skm

from engine.sdk import Client, DriftlineAPIError
from tests.cli.helpers import driftline
from tests.sdk.conftest import T0, fetch

END = T0 + timedelta(hours=3)
CLASSES = ["no", "yes"]
MULTI = ["a", "b", "c"]


def _frame(task: str, n: int, seed: int, prefix: str) -> pl.DataFrame:
    """Predictions over three hours, 70 % of them labelled, each label known 1–600 s after its prediction."""
    rng = np.random.default_rng(seed)
    time = [T0 + timedelta(seconds=int(s)) for s in rng.integers(0, 3 * 3600, n)]
    labelled = rng.random(n) < 0.7
    delay = rng.integers(1, 600, n)
    cols: dict[str, Any] = {"prediction_id": [f"{prefix}-{i}" for i in range(n)], "time": time,
                            "x": rng.normal(size=n), "region": rng.choice(["eu", "us"], n).tolist()}
    if task == "binary":
        score = rng.uniform(size=n)
        cols["score"] = score
        truth = [CLASSES[int(u < s)] for u, s in zip(rng.uniform(size=n), score, strict=True)]
    elif task == "multiclass":
        p = rng.dirichlet([1.0, 1.0, 1.0], size=n)
        p[:, 2] = 1.0 - p[:, 0] - p[:, 1]
        cols["probabilities"] = p.tolist()
        truth = [MULTI[int(rng.choice(3, p=row / row.sum()))] for row in p]
    else:
        y = rng.normal(10, 3, n)
        cols["prediction"] = y + rng.normal(0, 1, n)
        truth = y.tolist()
    cols["label"] = [t if lab else None for t, lab in zip(truth, labelled, strict=True)]
    cols["label_time"] = [t + timedelta(seconds=int(d)) if lab else None
                          for t, d, lab in zip(time, delay, labelled, strict=True)]
    return pl.DataFrame(cols, schema_overrides={"time": pl.Datetime("us", "UTC"),
                                                "label_time": pl.Datetime("us", "UTC")})


def _create(url: str, name: str, task: str) -> None:
    with Client(url) as dl:
        dl.create_model(name, task, [{"name": "x", "kind": "numeric"}],
                        class_labels={"binary": CLASSES, "multiclass": MULTI}.get(task), dimensions=["region"])
        dl.create_version(name, "v1", stage="production")


def _window(url: str, name: str, metrics: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/api/v1/models/{name}/windows/metrics",
                  params={"start": T0.isoformat(), "end": END.isoformat(), "granularity": "1d", "metrics": metrics})
    assert r.status_code == 200, r.text
    [point] = r.json()["points"]
    values: dict[str, Any] = point["values"]
    return values


def _assert_metrics_equal_sklearn(url: str, name: str, task: str, frame: pl.DataFrame) -> None:
    lab = frame.filter(pl.col("label").is_not_null())
    delay = (lab["label_time"] - lab["time"]).dt.total_microseconds().to_numpy() / 1e6
    if task == "binary":
        got = _window(url, name, "count,accuracy,precision,recall,f1,label_coverage,label_delay_mean_s,"
                                 "label_delay_max_s")
        y = lab["label"].to_list()
        pred = ["yes" if s >= 0.5 else "no" for s in lab["score"]]
        expected = {"accuracy": skm.accuracy_score(y, pred),
                    "precision": skm.precision_score(y, pred, pos_label="yes"),
                    "recall": skm.recall_score(y, pred, pos_label="yes"),
                    "f1": skm.f1_score(y, pred, pos_label="yes")}
    elif task == "multiclass":
        got = _window(url, name, "count,accuracy,f1_macro,precision_weighted,recall_micro,label_coverage,"
                                 "label_delay_mean_s,label_delay_max_s")
        y = lab["label"].to_list()
        pred = [MULTI[int(np.argmax(p))] for p in lab["probabilities"].to_list()]
        expected = {"accuracy": skm.accuracy_score(y, pred),
                    "f1_macro": skm.f1_score(y, pred, average="macro", labels=MULTI, zero_division=0),
                    "precision_weighted": skm.precision_score(y, pred, average="weighted", labels=MULTI,
                                                              zero_division=0),
                    "recall_micro": skm.recall_score(y, pred, average="micro", labels=MULTI, zero_division=0)}
    else:
        got = _window(url, name, "count,mae,rmse,r2,label_coverage,label_delay_mean_s,label_delay_max_s")
        y_true, y_pred = lab["label"].to_numpy(), lab["prediction"].to_numpy()
        expected = {"mae": skm.mean_absolute_error(y_true, y_pred),
                    "rmse": skm.mean_squared_error(y_true, y_pred) ** 0.5,
                    "r2": skm.r2_score(y_true, y_pred)}
    expected.update({"count": frame.height, "label_coverage": lab.height / frame.height,
                     "label_delay_mean_s": float(delay.mean()), "label_delay_max_s": float(delay.max())})
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


async def _stored_labels(db_url: str) -> dict[str, tuple[Any, Any, Any]]:
    rows = await fetch(db_url, "SELECT prediction_id, label_class, label_value, label_time FROM predictions")
    return {r["prediction_id"]: (r["label_class"], r["label_value"], r["label_time"]) for r in rows}


def _assert_stored(stored: dict[str, tuple[Any, Any, Any]], frame: pl.DataFrame, task: str) -> None:
    assert len(stored) == frame.height
    for row in frame.iter_rows(named=True):
        cls, value, when = stored[row["prediction_id"]]
        assert (value if task == "regression" else cls) == row["label"]
        assert when == row["label_time"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
async def test_a_file_with_labels_through_the_cli(server_url: str, db_url: str, tmp_path: Path, fmt: str) -> None:
    _create(server_url, "filed", "binary")
    frame = _frame("binary", 400, seed=5, prefix=fmt)
    path = tmp_path / f"preds.{fmt}"
    if fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.with_columns(pl.col("time", "label_time").dt.to_string("%Y-%m-%dT%H:%M:%S%z")).write_csv(path)
    out = driftline(db_url, "ingest", "predictions", str(path), "-m", "filed", "--segment-columns", "region")
    assert out.returncode == 0, out.stderr
    _assert_stored(await _stored_labels(db_url), frame, "binary")
    _assert_metrics_equal_sklearn(server_url, "filed", "binary", frame)


async def test_a_bad_label_refuses_the_file_and_stores_nothing(server_url: str, db_url: str, tmp_path: Path) -> None:
    _create(server_url, "filed", "binary")
    frame = _frame("binary", 50, seed=6, prefix="bad")
    bad = frame.with_columns(pl.when(pl.int_range(pl.len()) == 17).then(pl.lit("maybe"))
                             .otherwise(pl.col("label")).alias("label"))
    bad.write_parquet(tmp_path / "bad.parquet")
    out = driftline(db_url, "ingest", "predictions", str(tmp_path / "bad.parquet"), "-m", "filed",
                    "--segment-columns", "region")
    assert out.returncode == 2 and "row 17, label" in out.stderr, out.stderr
    orphan = frame.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("label"))
                                .alias("label"),
                                pl.lit(T0, dtype=pl.Datetime("us", "UTC")).alias("label_time"))
    orphan.write_parquet(tmp_path / "orphan.parquet")
    out = driftline(db_url, "ingest", "predictions", str(tmp_path / "orphan.parquet"), "-m", "filed",
                    "--segment-columns", "region")
    assert out.returncode == 2 and "row 3, label_time" in out.stderr, out.stderr
    assert await _stored_labels(db_url) == {}


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
async def test_rest_json_arrow_and_parquet_bodies_with_labels(server_url: str, db_url: str, task: str) -> None:
    _create(server_url, "rest", task)
    frame = _frame(task, 600, seed=7, prefix="r")
    json_part, arrow_part, parquet_part = frame[:200], frame[200:400], frame[400:]
    rows = [{"prediction_id": r["prediction_id"], "time": r["time"].isoformat(),
             **({k: r[k] for k in ("score", "probabilities", "prediction") if k in r}),
             "features": {"x": r["x"]}, "segments": {"region": r["region"]},
             **({"label": r["label"], "label_time": r["label_time"].isoformat()} if r["label"] is not None else {})}
            for r in json_part.iter_rows(named=True)]
    url = f"{server_url}/api/v1/models/rest/predictions"
    r = httpx.post(url, json=rows)
    assert r.status_code == 201 and r.json()["written"] == 200, r.text
    buf = io.BytesIO()
    arrow_part.write_ipc_stream(buf)
    r = httpx.post(url, params={"segment_columns": "region"}, content=buf.getvalue(),
                   headers={"content-type": "application/vnd.apache.arrow.stream"})
    assert r.status_code == 201, r.text
    buf = io.BytesIO()
    parquet_part.write_parquet(buf)
    r = httpx.post(url, params={"segment_columns": "region"}, content=buf.getvalue(),
                   headers={"content-type": "application/vnd.apache.parquet"})
    assert r.status_code == 201, r.text
    _assert_stored(await _stored_labels(db_url), frame, task)
    _assert_metrics_equal_sklearn(server_url, "rest", task, frame)
    # atomic: a label that is not a number (regression) or not a class refuses the batch, nothing stored
    bad = [{**rows[0], "prediction_id": "new-1"}, {**rows[1], "prediction_id": "new-2", "label": [1]}]
    r = httpx.post(url, json=bad)
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 1, r.text
    assert "new-1" not in await _stored_labels(db_url)


async def test_the_sdk_sends_predictions_with_labels(server_url: str, db_url: str) -> None:
    _create(server_url, "sdk", "binary")
    frame = _frame("binary", 500, seed=8, prefix="s")
    with Client(server_url, batch_size=128) as dl:
        summary = dl.log_predictions("sdk", frame, segment_columns=["region"])
        assert summary.written == 500
        bad = _frame("binary", 10, seed=9, prefix="b").with_columns(pl.lit("perhaps").alias("label"))
        with pytest.raises(DriftlineAPIError) as err:
            dl.log_predictions("sdk", bad, segment_columns=["region"])
    assert err.value.status == 422 and {e.field for e in err.value.errors} == {"label"}
    _assert_stored(await _stored_labels(db_url), frame, "binary")
    _assert_metrics_equal_sklearn(server_url, "sdk", "binary", frame)
