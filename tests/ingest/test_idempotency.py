"""Idempotency: by prediction id (same batch twice, overlapping batches) and by batch Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import numpy as np
import pytest

from engine.domain import ModelSpec
from engine.errors import ValidationError
from engine.ingest.service import IngestService
from tests.ingest.support import T0, binary_rows, fetch_predictions, snapshot


async def test_same_batch_twice_stored_once(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rows = binary_rows(np.random.default_rng(41), 120)
    first = await ingest.log_predictions("churn", rows)
    second = await ingest.log_predictions("churn", rows)
    assert (first.written, first.duplicates) == (120, 0)
    assert (second.written, second.duplicates, second.replayed) == (0, 120, False)
    assert await pool.fetchval("SELECT count(*) FROM predictions") == 120


async def test_overlapping_batch_writes_only_new_rows(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    rows = binary_rows(np.random.default_rng(42), 150)
    await ingest.log_predictions("churn", rows[:100])
    resent = [dict(r, score=0.99) for r in rows[50:100]] + rows[100:]  # the overlap carries changed scores
    result = await ingest.log_predictions("churn", resent)
    assert (result.written, result.duplicates) == (50, 50)
    stored = await fetch_predictions(pool, models["churn"].id)
    assert len(stored) == 150
    # First write wins: a re-sent prediction does not overwrite the stored one.
    assert [stored[str(r["prediction_id"])]["score"] for r in rows] == [r["score"] for r in rows]


async def test_same_id_other_time_is_another_prediction(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    """Identity is (model, prediction_id, time) — the hypertable's unique index must contain the time.
    A retry that re-stamps the time is therefore a second row; this test pins that documented limit."""
    row = {"prediction_id": "x", "time": T0.isoformat(), "score": 0.5, "features": {"tenure": 1}}
    await ingest.log_predictions("churn", [row])
    result = await ingest.log_predictions("churn", [dict(row, time=(T0 + timedelta(seconds=1)).isoformat())])
    assert (result.written, result.duplicates) == (1, 0)
    assert await pool.fetchval("SELECT count(*) FROM predictions WHERE prediction_id = 'x'") == 2


async def test_idempotency_key_predictions(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rows = binary_rows(np.random.default_rng(43), 40)
    first = await ingest.log_predictions("churn", rows, idempotency_key="batch-1")
    assert (first.written, first.replayed) == (40, False)
    before = await snapshot(pool)
    again = await ingest.log_predictions("churn", rows, idempotency_key="batch-1")
    assert again.replayed
    assert (again.received, again.written, again.duplicates, again.rejected) == (40, 40, 0, 0)
    # A key reused with different content is a client bug: refused, never answered with another batch's
    # result, and nothing is written.
    other = binary_rows(np.random.default_rng(44), 5, prefix="other")
    with pytest.raises(ValidationError, match="different batch"):
        await ingest.log_predictions("churn", other, idempotency_key="batch-1")
    # The same rows in partial mode mean something else too.
    with pytest.raises(ValidationError, match="different batch"):
        await ingest.log_predictions("churn", rows, idempotency_key="batch-1", partial=True)
    assert await snapshot(pool) == before


async def test_idempotency_key_partial_result_replayed(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    rows = binary_rows(np.random.default_rng(45), 6)
    rows[2]["score"] = 1.5
    first = await ingest.log_predictions("churn", rows, partial=True, idempotency_key="p-1")
    assert (first.written, first.rejected) == (5, 1)
    before = await snapshot(pool)
    again = await ingest.log_predictions("churn", rows, partial=True, idempotency_key="p-1")
    assert again.replayed and (again.written, again.rejected) == (5, 1)
    assert [(e.row, e.field) for e in again.errors] == [(e.row, e.field) for e in first.errors]
    assert await snapshot(pool) == before  # in particular no second rejected_rows entry


async def test_idempotency_key_labels(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rows = binary_rows(np.random.default_rng(46), 10)
    await ingest.log_predictions("churn", rows)
    labels = [{"prediction_id": r["prediction_id"], "label": "churn"} for r in rows]
    first = await ingest.log_labels("churn", labels, idempotency_key="lab-1")
    before = await snapshot(pool)
    again = await ingest.log_labels("churn", labels, idempotency_key="lab-1")
    assert again.replayed and again.written == first.written == 10
    relabel = [{"prediction_id": r["prediction_id"], "label": "stay"} for r in rows]
    with pytest.raises(ValidationError, match="different batch"):
        await ingest.log_labels("churn", relabel, idempotency_key="lab-1")
    assert await snapshot(pool) == before  # label_class and label_time untouched


async def test_idempotency_key_metrics(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rows = [{"name": "cost", "value": float(i), "time": (T0 + timedelta(minutes=i)).isoformat()} for i in range(7)]
    await ingest.log_metrics(rows, idempotency_key="m-1")
    before = await snapshot(pool)
    again = await ingest.log_metrics(rows, idempotency_key="m-1")
    assert again.replayed and again.written == 7
    assert await snapshot(pool) == before
    assert await pool.fetchval("SELECT count(*) FROM metrics") == 7


async def test_idempotency_key_reused_for_another_kind_or_model(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    rows = binary_rows(np.random.default_rng(47), 3)
    await ingest.log_predictions("churn", rows, idempotency_key="k")
    before = await snapshot(pool)
    metric = [{"name": "cost", "value": 1.0, "time": T0.isoformat()}]
    with pytest.raises(ValidationError) as info:
        await ingest.log_metrics(metric, model_name="churn", idempotency_key="k")
    assert [(e.row, e.field) for e in info.value.errors] == [(None, "idempotency_key")]
    assert "different batch" in info.value.errors[0].reason
    with pytest.raises(ValidationError, match="different batch"):
        await ingest.log_labels("churn", [{"prediction_id": rows[0]["prediction_id"], "label": "churn"}],
                                idempotency_key="k")
    iris_row = {"prediction_id": "i", "time": T0.isoformat(), "probabilities": [0.2, 0.3, 0.5]}
    with pytest.raises(ValidationError, match="different batch"):
        await ingest.log_predictions("iris", [iris_row], idempotency_key="k")
    assert await snapshot(pool) == before


async def test_refused_batch_does_not_consume_its_key(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    rows = binary_rows(np.random.default_rng(48), 4)
    bad = [dict(rows[0], score="high"), *rows[1:]]
    with pytest.raises(ValidationError):
        await ingest.log_predictions("churn", bad, idempotency_key="retry-me")
    fixed = await ingest.log_predictions("churn", rows, idempotency_key="retry-me")
    assert (fixed.written, fixed.replayed) == (4, False)
