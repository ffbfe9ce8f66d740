"""`driftline ingest`: Parquet and CSV files round-trip into the store exactly; bad files exit 2 with the row
and field named and leave the database unchanged; `--partial` stores the good rows and records the bad."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import polars as pl
import pytest

from tests.cli.helpers import driftline, register

NUMERIC = ("x1", "x2", "x3")
SPEC: dict[str, Any] = {
    "name": "cli-churn", "task": "binary", "class_labels": ["stay", "churn"], "threshold": 0.5,
    "dimensions": ["region"],
    "features": [{"name": "x1", "kind": "numeric"}, {"name": "plan", "kind": "categorical"},
                 {"name": "x2", "kind": "numeric", "min_value": -10, "max_value": 10},
                 {"name": "x3", "kind": "numeric"}],
}
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def make_frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x[rng.random(n) < 0.1, 1] = np.nan  # missing values in x2
    labels = np.where(rng.random(n) < 0.5, "churn", "stay").astype(object)
    labels[rng.random(n) < 0.3] = None  # not every prediction has a label yet
    return pl.DataFrame({
        "prediction_id": [f"id-{seed}-{i:05d}" for i in range(n)],
        "time": [T0 + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 3 * 86_400, n))],
        "score": rng.random(n),
        "latency_ms": rng.gamma(2.0, 5.0, n),
        "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2],
        "plan": rng.choice(["free", "pro", "team"], n).tolist(),
        "region": rng.choice(["eu", "us"], n).tolist(),
        "label": labels.tolist(),
    }, schema_overrides={"time": pl.Datetime("us", "UTC")})


async def stored(db_url: str) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT p.* FROM predictions p JOIN models m ON m.id = p.model_id WHERE m.name = $1", SPEC["name"])
    finally:
        await conn.close()
    return {r["prediction_id"]: dict(r) for r in rows}


def assert_same(frame: pl.DataFrame, rows: dict[str, dict[str, Any]]) -> None:
    assert set(rows) == set(frame.get_column("prediction_id").to_list())
    for exp in frame.iter_rows(named=True):
        got = rows[exp["prediction_id"]]
        assert got["time"] == exp["time"]
        assert got["score"] == pytest.approx(exp["score"], abs=1e-12)
        assert got["latency_ms"] == pytest.approx(exp["latency_ms"], abs=1e-12)
        assert got["predicted_class"] == ("churn" if exp["score"] >= 0.5 else "stay")
        for i, name in enumerate(NUMERIC):
            value = exp[name]
            if value is None or math.isnan(value):
                assert got["num_features"][i] is None
            else:
                assert got["num_features"][i] == pytest.approx(value, abs=1e-12)
        assert list(got["cat_features"]) == [exp["plan"]]
        assert json.loads(got["segments"]) == {"region": exp["region"]}
        assert got["label_class"] == exp["label"]
        assert (got["label_time"] is None) == (exp["label"] is None)


async def test_parquet_predictions_round_trip(db_url: str, tmp_path: Path) -> None:
    register(db_url, tmp_path, SPEC)
    frame = make_frame(700, seed=1)
    path = tmp_path / "predictions.parquet"
    frame.write_parquet(path)

    out = driftline(db_url, "ingest", "predictions", str(path), "--model", SPEC["name"],
                    "--segment-columns", "region", "--batch-size", "256")
    assert out.returncode == 0, out.stderr
    assert "700 received, 700 written" in out.stdout
    assert_same(frame, await stored(db_url))

    again = driftline(db_url, "ingest", "predictions", str(path), "-m", SPEC["name"], "--segment-columns", "region")
    assert again.returncode == 0, again.stderr
    assert "0 written, 700 duplicates skipped" in again.stdout
    assert len(await stored(db_url)) == 700


async def test_csv_predictions_round_trip(db_url: str, tmp_path: Path) -> None:
    register(db_url, tmp_path, SPEC)
    frame = make_frame(300, seed=2)
    # Write the times with assorted offsets: the same instants, as a user's CSV might carry them.
    offsets = [timezone(timedelta(hours=h)) for h in (0, 2, -5)]
    texts = [t.astimezone(offsets[i % 3]).isoformat() for i, t in enumerate(frame.get_column("time").to_list())]
    path = tmp_path / "predictions.csv"
    frame.with_columns(pl.Series("time", texts)).write_csv(path)

    out = driftline(db_url, "ingest", "predictions", str(path), "--model", SPEC["name"],
                    "--segment-columns", "region", "--batch-size", "100")
    assert out.returncode == 0, out.stderr
    assert "300 received, 300 written" in out.stdout
    assert_same(frame, await stored(db_url))


async def test_bad_file_is_refused_whole(db_url: str, tmp_path: Path) -> None:
    register(db_url, tmp_path, SPEC)
    frame = make_frame(300, seed=3)
    scores = frame.get_column("score").to_list()
    scores[250] = 1.5  # in the third batch of 100: the first two must not be kept either
    path = tmp_path / "bad.parquet"
    frame.with_columns(pl.Series("score", scores)).write_parquet(path)

    out = driftline(db_url, "ingest", "predictions", str(path), "-m", SPEC["name"],
                    "--segment-columns", "region", "--batch-size", "100")
    assert out.returncode == 2
    assert "row 250, score: must be within [0, 1]" in out.stderr
    assert "nothing written" in out.stderr
    assert await stored(db_url) == {}


async def test_csv_with_naive_timestamp_is_refused(db_url: str, tmp_path: Path) -> None:
    register(db_url, tmp_path, SPEC)
    frame = make_frame(20, seed=4)
    texts = [t.isoformat() for t in frame.get_column("time").to_list()]
    texts[7] = texts[7].replace("+00:00", "")  # no offset
    path = tmp_path / "naive.csv"
    frame.with_columns(pl.Series("time", texts)).write_csv(path)

    out = driftline(db_url, "ingest", "predictions", str(path), "-m", SPEC["name"], "--segment-columns", "region")
    assert out.returncode == 2
    assert "row 7, time: timestamp has no timezone" in out.stderr
    assert await stored(db_url) == {}


async def test_partial_keeps_good_rows_and_records_bad(db_url: str, tmp_path: Path) -> None:
    register(db_url, tmp_path, SPEC)
    frame = make_frame(50, seed=5)
    plans = frame.get_column("plan").to_list()
    latency = frame.get_column("latency_ms").to_list()
    latency[3] = -1.0
    path = tmp_path / "partial.parquet"
    frame.with_columns(pl.Series("latency_ms", latency), pl.Series("plan", plans)).write_parquet(path)

    out = driftline(db_url, "ingest", "predictions", str(path), "-m", SPEC["name"],
                    "--segment-columns", "region", "--partial")
    assert out.returncode == 0, out.stderr
    assert "49 written" in out.stdout and "1 rejected" in out.stdout
    assert "row 3, latency_ms: must be >= 0" in out.stderr
    rows = await stored(db_url)
    assert set(rows) == set(frame.get_column("prediction_id").to_list()) - {frame["prediction_id"][3]}
    conn = await asyncpg.connect(db_url)
    try:
        rejected = await conn.fetch("SELECT row_index, field, payload FROM rejected_rows")
    finally:
        await conn.close()
    assert [(r["row_index"], r["field"]) for r in rejected] == [(3, "latency_ms")]
    assert json.loads(rejected[0]["payload"])["prediction_id"] == frame["prediction_id"][3]


async def test_labels_and_metrics_csv(db_url: str, tmp_path: Path) -> None:
    register(db_url, tmp_path, SPEC)
    frame = make_frame(40, seed=6).with_columns(pl.lit(None, dtype=pl.Utf8).alias("label"))
    frame.write_parquet(tmp_path / "p.parquet")
    assert driftline(db_url, "ingest", "predictions", str(tmp_path / "p.parquet"), "-m", SPEC["name"],
                     "--segment-columns", "region").returncode == 0
    rng = np.random.default_rng(7)
    ids = frame.get_column("prediction_id").to_list()
    labelled = sorted(rng.choice(len(ids), 25, replace=False).tolist())
    label_time = "2026-11-25T08:30:00+01:00"
    truth = {ids[i]: rng.choice(["stay", "churn"]).item() for i in labelled}
    pl.DataFrame({"prediction_id": list(truth), "label": list(truth.values()),
                  "label_time": [label_time] * len(truth)}).write_csv(tmp_path / "labels.csv")
    out = driftline(db_url, "ingest", "labels", str(tmp_path / "labels.csv"), "-m", SPEC["name"])
    assert out.returncode == 0, out.stderr
    assert "25 labelled" in out.stdout
    rows = await stored(db_url)
    assert {k: r["label_class"] for k, r in rows.items() if r["label_class"] is not None} == truth
    assert {r["label_time"] for k, r in rows.items() if k in truth} == {datetime(2026, 11, 25, 7, 30, tzinfo=UTC)}

    values = rng.random(10)
    metrics = pl.DataFrame({
        "name": ["cost_usd"] * 10, "value": values,
        "time": [(T0 + timedelta(hours=h)).isoformat() for h in range(10)],
        "tags": [json.dumps({"tier": "gpu"})] * 10, "region": ["eu", "us"] * 5,
    })
    metrics.write_csv(tmp_path / "metrics.csv")
    out = driftline(db_url, "ingest", "metrics", str(tmp_path / "metrics.csv"), "-m", SPEC["name"],
                    "--segment-columns", "region")
    assert out.returncode == 0, out.stderr
    conn = await asyncpg.connect(db_url)
    try:
        got = await conn.fetch("SELECT time, value, tags FROM metrics WHERE name = 'cost_usd' ORDER BY time")
    finally:
        await conn.close()
    assert [r["time"] for r in got] == [T0 + timedelta(hours=h) for h in range(10)]
    assert [r["value"] for r in got] == pytest.approx(values.tolist(), abs=1e-12)
    assert [json.loads(r["tags"]) for r in got] == [{"tier": "gpu", "region": r} for r in ["eu", "us"] * 5]


async def test_unknown_label_id_refuses_the_file(db_url: str, tmp_path: Path) -> None:
    register(db_url, tmp_path, SPEC)
    pl.DataFrame({"prediction_id": ["nope-1"], "label": ["stay"]}).write_csv(tmp_path / "labels.csv")
    out = driftline(db_url, "ingest", "labels", str(tmp_path / "labels.csv"), "-m", SPEC["name"])
    assert out.returncode == 2
    assert "row 0, prediction_id: no stored prediction with this id" in out.stderr
