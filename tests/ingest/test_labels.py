"""Labels: late, out of order, in several batches, re-labelled; unknown ids reported (atomic and partial)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import numpy as np
import pytest

from engine.domain import ModelSpec
from engine.errors import ValidationError
from engine.ingest.service import IngestService
from tests.ingest.support import BINARY_LABELS, binary_rows, fetch_predictions, parse_time, snapshot


async def _stored_binary(ingest: IngestService, n: int, seed: int) -> list[dict[str, object]]:
    rows = binary_rows(np.random.default_rng(seed), n)
    await ingest.log_predictions("churn", rows)
    return rows


async def test_late_out_of_order_labels_in_batches(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    rng = np.random.default_rng(21)
    rows = await _stored_binary(ingest, 300, 21)
    labelled = rng.permutation(len(rows))[:240]  # 60 predictions never get a label
    truth = {int(i): str(rng.choice(BINARY_LABELS)) for i in labelled}
    explicit_time: dict[int, datetime] = {}
    windows: dict[int, tuple[datetime, datetime]] = {}
    for b, chunk in enumerate(np.array_split(rng.permutation(labelled), 3)):
        batch = []
        for i in chunk.tolist():
            item: dict[str, object] = {"prediction_id": rows[i]["prediction_id"], "label": truth[i]}
            if b == 1:  # the prediction's time as a hint, written in another offset than it was sent with
                t = parse_time(str(rows[i]["time"])).astimezone(timezone(timedelta(hours=9)))
                item["time"] = t.isoformat()
            if i % 4 == 0:
                lt = datetime(2026, 3, 10, tzinfo=UTC) + timedelta(minutes=i)
                item["label_time"] = lt.isoformat()
                explicit_time[i] = lt
            batch.append(item)
        before = datetime.now(UTC)
        result = await ingest.log_labels("churn", batch)
        after = datetime.now(UTC)
        assert (result.kind, result.received, result.written, result.rejected) == ("labels", len(batch), len(batch), 0)
        for i in chunk.tolist():
            windows[i] = (before, after)

    stored = await fetch_predictions(pool, models["churn"].id)
    for i, row in enumerate(rows):
        rec = stored[str(row["prediction_id"])]
        if i in truth:
            assert rec["label_class"] == truth[i]
            if i in explicit_time:
                assert rec["label_time"] == explicit_time[i]
            else:
                lo, hi = windows[i]
                assert lo <= rec["label_time"] <= hi
        else:
            assert rec["label_class"] is None and rec["label_time"] is None
        assert rec["label_value"] is None
    # The labels did not touch the predictions themselves.
    assert all(stored[str(r["prediction_id"])]["score"] == r["score"] for r in rows)


async def test_relabel_overwrites(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rows = await _stored_binary(ingest, 10, 22)
    ids = [str(r["prediction_id"]) for r in rows]
    t1 = datetime(2026, 3, 5, tzinfo=UTC)
    await ingest.log_labels("churn", [{"prediction_id": p, "label": "stay", "label_time": t1.isoformat()} for p in ids])
    t2 = t1 + timedelta(days=1)
    result = await ingest.log_labels("churn", [{"prediction_id": p, "label": "churn", "label_time": t2} for p in ids[:4]])
    assert result.written == 4
    stored = await fetch_predictions(pool, models["churn"].id)
    for k, p in enumerate(ids):
        expected = ("churn", t2) if k < 4 else ("stay", t1)
        assert (stored[p]["label_class"], stored[p]["label_time"]) == expected


async def test_regression_labels(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rng = np.random.default_rng(23)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    preds = [{"prediction_id": f"r{i}", "time": (t0 + timedelta(minutes=i)).isoformat(), "prediction": float(i)}
             for i in range(50)]
    await ingest.log_predictions("price", preds)
    y = rng.normal(size=50)
    order = rng.permutation(50)
    await ingest.log_labels("price", [{"prediction_id": f"r{i}", "label": float(y[i])} for i in order[:25]])
    await ingest.log_labels("price", [{"prediction_id": f"r{i}", "label": int(i)} for i in order[25:]])
    stored = await fetch_predictions(pool, models["price"].id)
    expected = y.copy()
    expected[order[25:]] = order[25:]
    assert [stored[f"r{i}"]["label_value"] for i in range(50)] == expected.tolist()
    assert all(stored[f"r{i}"]["label_class"] is None for i in range(50))


async def test_unknown_prediction_id_atomic_changes_nothing(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    rows = await _stored_binary(ingest, 10, 24)
    batch: list[dict[str, object]] = [{"prediction_id": r["prediction_id"], "label": "churn"} for r in rows[:6]]
    batch.insert(3, {"prediction_id": "nope", "label": "churn"})
    # A known id whose time hint does not match is unknown too.
    batch.append({"prediction_id": rows[7]["prediction_id"], "label": "churn", "time": "2020-01-01T00:00:00Z"})
    before = await snapshot(pool)
    with pytest.raises(ValidationError) as info:
        await ingest.log_labels("churn", batch)
    errs = info.value.errors
    assert [(e.row, e.field) for e in errs] == [(3, "prediction_id"), (7, "prediction_id")]
    assert "no stored prediction" in errs[0].reason and "and time" not in errs[0].reason
    assert "and time" in errs[1].reason
    assert await snapshot(pool) == before


async def test_unknown_prediction_id_partial(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rows = await _stored_binary(ingest, 10, 25)
    batch: list[dict[str, object]] = [{"prediction_id": r["prediction_id"], "label": "churn"} for r in rows[:5]]
    batch[1:1] = [{"prediction_id": "ghost-1", "label": "stay"}]
    batch.append({"prediction_id": "ghost-2", "label": "churn"})
    batch.append({"prediction_id": rows[6]["prediction_id"], "label": "maybe"})  # unknown class
    result = await ingest.log_labels("churn", batch, partial=True, idempotency_key="lbl-1")
    assert (result.received, result.written, result.rejected) == (8, 5, 3)
    assert sorted((e.row, e.field) for e in result.errors) == [(1, "prediction_id"), (6, "prediction_id"), (7, "label")]

    stored = await fetch_predictions(pool, models["churn"].id)
    labelled = {p for p, r in stored.items() if r["label_class"] is not None}
    assert labelled == {str(r["prediction_id"]) for r in rows[:5]}
    rejected = await pool.fetch("SELECT * FROM rejected_rows ORDER BY row_index")
    assert [(r["kind"], r["model_id"], r["batch_key"], r["row_index"], r["field"]) for r in rejected] == [
        ("labels", models["churn"].id, "lbl-1", 1, "prediction_id"),
        ("labels", models["churn"].id, "lbl-1", 6, "prediction_id"),
        ("labels", models["churn"].id, "lbl-1", 7, "label"),
    ]
    assert "no stored prediction" in rejected[0]["reason"]
    assert "not a class label" in rejected[2]["reason"]
    assert [json.loads(r["payload"]) for r in rejected] == [batch[1], batch[6], batch[7]]


async def test_unknown_class_in_label_atomic(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rows = await _stored_binary(ingest, 3, 26)
    before = await snapshot(pool)
    bad = [{"prediction_id": rows[0]["prediction_id"], "label": "stay"},
           {"prediction_id": rows[1]["prediction_id"], "label": "Churn"}]
    with pytest.raises(ValidationError) as info:
        await ingest.log_labels("churn", bad)
    assert [(e.row, e.field) for e in info.value.errors] == [(1, "label")]
    assert "not a class label" in info.value.errors[0].reason
    assert await snapshot(pool) == before


async def test_labels_from_a_polars_frame(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    import polars as pl

    rows = await _stored_binary(ingest, 20, 27)
    rng = np.random.default_rng(27)
    truth = [str(c) for c in rng.choice(BINARY_LABELS, 20)]
    frame = pl.DataFrame({
        "prediction_id": [r["prediction_id"] for r in rows],
        "label": truth,
        "time": pl.Series([parse_time(str(r["time"])) for r in rows]).dt.convert_time_zone("Asia/Tokyo"),
        "label_time": pl.Series([datetime(2026, 3, 9, tzinfo=UTC)] * 20).dt.convert_time_zone("UTC"),
    }).sample(fraction=1.0, shuffle=True, seed=3)
    result = await ingest.log_labels("churn", frame)
    assert result.written == 20
    stored = await fetch_predictions(pool, models["churn"].id)
    assert [stored[str(r["prediction_id"])]["label_class"] for r in rows] == truth
    assert {stored[str(r["prediction_id"])]["label_time"] for r in rows} == {datetime(2026, 3, 9, tzinfo=UTC)}

    naive = frame.with_columns(pl.col("time").dt.replace_time_zone(None))
    before = await snapshot(pool)
    with pytest.raises(ValidationError) as info:
        await ingest.log_labels("churn", naive)
    assert {e.field for e in info.value.errors} == {"time"} and len(info.value.errors) == 20
    assert "no timezone" in info.value.errors[0].reason
    assert await snapshot(pool) == before
