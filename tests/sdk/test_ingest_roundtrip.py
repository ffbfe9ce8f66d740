"""Predictions, labels and metrics sent through the SDK (dict rows, polars and pandas frames) are stored
exactly as sent: every value is read back from the database and compared with the input."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import polars as pl
import pytest

from engine.sdk import AsyncClient, BatchResult, Client, DriftlineAPIError
from tests.sdk.conftest import (
    CATEGORICAL,
    MODEL,
    NUMERIC,
    T0,
    fetch,
    model_features,
    prediction_rows,
    stored_predictions,
)


def _create(url: str) -> None:
    with Client(url) as dl:
        dl.create_model(MODEL, "binary", model_features(), class_labels=["no", "yes"], threshold=0.5)
        dl.create_version(MODEL, "1.0", stage="production")


def _assert_stored(stored: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Compare each stored row with the dict row it came from."""
    assert len(stored) == len(rows)
    for row in rows:
        s = stored[row["prediction_id"]]
        assert s["time"] == datetime.fromisoformat(row["time"]).astimezone(UTC)
        assert s["score"] == row["score"]
        assert s["latency_ms"] == row["latency_ms"]
        assert s["predicted_class"] == ("yes" if row["score"] >= 0.5 else "no")
        assert list(s["num_features"]) == [row["features"][n] for n in NUMERIC]
        assert list(s["cat_features"]) == [row["features"][c] for c in CATEGORICAL]
        assert json.loads(s["segments"]) == row["segments"]


def _rows_to_polars(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame({
        "prediction_id": [r["prediction_id"] for r in rows],
        "time": [datetime.fromisoformat(r["time"]) for r in rows],
        "score": [r["score"] for r in rows],
        "latency_ms": [r["latency_ms"] for r in rows],
        **{n: [r["features"][n] for r in rows] for n in (*NUMERIC, *CATEGORICAL)},
        "region": [r["segments"]["region"] for r in rows],
        "arm": [r["segments"].get("arm") for r in rows],
    })


async def test_dict_rows_round_trip_in_batches(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(25, seed=1)
    seen: list[BatchResult] = []
    with Client(server_url, batch_size=10) as dl:
        summary = dl.log_predictions(MODEL, rows, version="1.0", on_batch=seen.append)
    assert [(b.index, b.offset, b.rows) for b in summary.batches] == [(0, 0, 10), (1, 10, 10), (2, 20, 5)]
    assert seen == list(summary.batches)
    assert (summary.received, summary.written, summary.duplicates, summary.rejected) == (25, 25, 0, 0)
    assert len({b.idempotency_key for b in summary.batches}) == 3
    assert all(b.status_code == 201 and b.attempts == 1 and not b.replayed for b in summary.batches)
    json.dumps(summary.to_dict())
    _assert_stored(await stored_predictions(db_url), rows)
    versions = await fetch(db_url, "SELECT DISTINCT v.version FROM predictions p JOIN model_versions v "
                                   "ON v.id = p.version_id")
    assert [r["version"] for r in versions] == ["1.0"]


async def test_polars_frame_round_trip_async_with_batches_in_flight(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(53, seed=2)
    frame = _rows_to_polars(rows)
    async with AsyncClient(server_url, batch_size=8, max_in_flight=3) as dl:
        summary = await dl.log_predictions(MODEL, frame, segment_columns=["region", "arm"])
    assert [b.offset for b in summary.batches] == list(range(0, 53, 8))
    assert summary.written == 53 and summary.rejected == 0
    _assert_stored(await stored_predictions(db_url), rows)


async def test_pandas_frame_round_trip(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(30, seed=3)
    frame = _rows_to_polars(rows).to_pandas()
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame.index = range(100, 130)  # the index is not data and must not matter
    with Client(server_url, batch_size=12) as dl:
        summary = dl.log_predictions(MODEL, frame, segment_columns=["region", "arm"])
    assert summary.written == 30 and len(summary.batches) == 3
    _assert_stored(await stored_predictions(db_url), rows)


async def test_sending_the_same_rows_again_stores_them_once(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(12, seed=4)
    with Client(server_url, batch_size=5) as dl:
        first = dl.log_predictions(MODEL, rows)
        again = dl.log_predictions(MODEL, rows)  # new keys: de-duplicated by prediction id instead
    assert first.written == 12 and again.written == 0 and again.duplicates == 12
    _assert_stored(await stored_predictions(db_url), rows)


async def test_labels_and_metrics_round_trip(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(20, seed=5)
    labels = [{"prediction_id": r["prediction_id"], "label": "yes" if i % 2 else "no",
               "label_time": (T0 + timedelta(days=2, minutes=i)).isoformat()} for i, r in enumerate(rows)]
    metric_frame = pl.DataFrame({
        "name": ["cost_usd"] * 9,
        "value": [0.01 * i for i in range(9)],
        "time": [T0 + timedelta(minutes=i) for i in range(9)],
    })
    async with AsyncClient(server_url, batch_size=6) as dl:
        await dl.log_predictions(MODEL, rows)
        labelled = await dl.log_labels(MODEL, pl.DataFrame(labels[::-1]))  # out of order, as a frame
        metrics = await dl.log_metrics(metric_frame, model=MODEL)
        plain = await dl.log_metrics([{"name": "gpu_util", "value": 0.5, "time": T0.isoformat(),
                                       "tags": {"node": "a"}}])
    assert labelled.written == 20 and len(labelled.batches) == 4
    assert metrics.written == 9 and plain.written == 1
    stored = await stored_predictions(db_url)
    for lab in labels:
        s = stored[lab["prediction_id"]]
        assert s["label_class"] == lab["label"]
        assert s["label_time"] == datetime.fromisoformat(lab["label_time"])
    got = await fetch(db_url, "SELECT time, model_id, name, value, tags FROM metrics ORDER BY name, time")
    gpu = [r for r in got if r["name"] == "gpu_util"]
    cost = [r for r in got if r["name"] == "cost_usd"]
    assert [(r["time"], r["value"]) for r in cost] == list(zip(metric_frame["time"], metric_frame["value"], strict=True))
    assert all(r["model_id"] is not None for r in cost)
    assert len(gpu) == 1 and gpu[0]["model_id"] is None and json.loads(gpu[0]["tags"]) == {"node": "a"}


async def test_a_4xx_surfaces_row_errors_renumbered_to_the_input(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(25, seed=6)
    rows[13]["score"] = 1.5
    rows[17]["features"]["x2"] = "high"
    with Client(server_url, batch_size=10) as dl, pytest.raises(DriftlineAPIError) as err:
        dl.log_predictions(MODEL, rows)
    exc = err.value
    assert exc.status == 422 and exc.attempts == 1
    assert exc.batch == 1 and exc.batch_offset == 10
    assert {(e.row, e.field) for e in exc.errors} == {(13, "score"), (17, "features.x2")}
    assert exc.completed is not None and [b.index for b in exc.completed.batches] == [0]
    stored = await stored_predictions(db_url)
    assert sorted(stored, key=lambda k: int(k.split("-")[1])) == [f"p-{i}" for i in range(10)]


async def test_partial_mode_reports_rejected_rows_with_input_positions(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(12, seed=7)
    rows[8]["score"] = -0.2
    with Client(server_url, batch_size=5) as dl:
        summary = dl.log_predictions(MODEL, rows, partial=True)
    assert (summary.written, summary.rejected) == (11, 1)
    assert [(e.row, e.field) for e in summary.errors] == [(8, "score")]
    assert "p-8" not in await stored_predictions(db_url)
    rejected = await fetch(db_url, "SELECT row_index, field FROM rejected_rows")
    assert [(r["row_index"], r["field"]) for r in rejected] == [(3, "score")]  # index within its batch


def test_non_finite_floats_in_dict_rows_are_refused_before_sending(server_url: str) -> None:
    rows = prediction_rows(3, seed=8)
    rows[2]["latency_ms"] = math.inf
    with Client(server_url) as dl, pytest.raises(ValueError, match=r"row 2, latency_ms"):
        dl.log_predictions(MODEL, rows)


async def test_nan_feature_in_dict_rows_is_sent_as_missing(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(3, seed=9)
    rows[1]["features"]["x3"] = math.nan
    with Client(server_url) as dl:
        assert dl.log_predictions(MODEL, rows).written == 3
    stored = await stored_predictions(db_url)
    assert stored["p-1"]["num_features"][2] is None


def test_empty_input_sends_nothing(server_url: str) -> None:
    with Client(server_url) as dl:
        summary = dl.log_predictions("not-even-a-model", [])
    assert summary.batches == () and summary.received == 0


async def test_a_caller_idempotency_key_makes_a_whole_call_exactly_once_across_runs(
    server_url: str, db_url: str
) -> None:
    _create(server_url)
    metrics = [{"name": "cost_usd", "value": float(i), "time": (T0 + timedelta(minutes=i)).isoformat()}
               for i in range(11)]
    with Client(server_url, batch_size=4) as dl:
        first = dl.log_metrics(metrics, model=MODEL, idempotency_key="nightly-2026-03-02")
    with Client(server_url, batch_size=4) as dl:  # a later run of the same job
        again = dl.log_metrics(metrics, model=MODEL, idempotency_key="nightly-2026-03-02")
        other = dl.log_metrics(metrics[:3], model=MODEL, idempotency_key="nightly-2026-03-03")
    assert [b.idempotency_key for b in first.batches] == [f"nightly-2026-03-02:{i}" for i in range(3)]
    assert first.written == 11 and not any(b.replayed for b in first.batches)
    assert all(b.replayed for b in again.batches) and len(again.batches) == 3
    assert other.written == 3
    got = await fetch(db_url, "SELECT value FROM metrics ORDER BY time, value")
    assert sorted(r["value"] for r in got) == sorted([m["value"] for m in metrics] + [0.0, 1.0, 2.0])
