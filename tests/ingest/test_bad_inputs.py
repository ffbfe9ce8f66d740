"""Bad input: each case gets its documented error (row, field, reason) and leaves the database unchanged;
in partial mode exactly the good rows are stored and exactly the bad ones kept in rejected_rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from engine.domain import ModelSpec
from engine.errors import NotFoundError, ValidationError
from engine.ingest.service import IngestService
from engine.store.db import create_pool
from engine.store.unit import UnitOfWork, unit_from_pool
from tests.conftest import create_database, drop_database
from tests.ingest.support import T0, good_binary_row, register_all, snapshot

BAD = 2  # index of the bad row in each batch


@pytest.fixture(scope="module")
async def shared(cluster_url: str, template_db: str) -> AsyncIterator[tuple[asyncpg.Pool, dict[str, ModelSpec]]]:
    """One database for every refused batch (a refused batch changes nothing, which each case checks),
    pre-filled with predictions, labels, metrics and a rejected row so the snapshots are not trivially empty."""
    name = f"driftline_t_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name, template=template_db)
    pool = await create_pool(url, min_size=1, max_size=4)
    try:
        models = await register_all(pool)
        async with unit_from_pool(pool) as uow:
            svc = IngestService(uow)
            await svc.log_predictions("churn", [good_binary_row(k, T0 - timedelta(days=1)) for k in range(20)])
            await svc.log_labels("churn", [{"prediction_id": f"g-{k}", "label": "churn"} for k in range(5)])
            await svc.log_metrics([{"name": "cost", "value": 1.0, "time": T0.isoformat()}], idempotency_key="seed")
            await svc.log_metrics([{"name": "cost", "value": "x", "time": T0.isoformat()}], partial=True)
        yield pool, models
    finally:
        await pool.close()
        await drop_database(cluster_url, name)


def _binary(bad: dict[str, Any] | Any, base: int = 100) -> list[Any]:
    rows: list[Any] = [good_binary_row(base + k) for k in range(5)]
    rows[BAD] = bad
    return rows


def _with(**changes: Any) -> dict[str, Any]:
    row = good_binary_row(102)
    for key, value in changes.items():
        if key.startswith("f_"):
            row["features"] = dict(row["features"], **{key[2:]: value})
        elif value is _DROP:
            row.pop(key)
        else:
            row[key] = value
    return row


def _without_feature(name: str) -> dict[str, Any]:
    row = good_binary_row(102)
    row["features"] = {k: v for k, v in row["features"].items() if k != name}
    return row


_DROP = object()


def _iris(bad: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"prediction_id": f"i{k}", "time": (T0 + timedelta(minutes=k)).isoformat(),
             "probabilities": [0.2, 0.3, 0.5], "features": {"x0": 1.0, "site": "a"}} for k in range(4)]
    rows[BAD] = dict(rows[BAD], **bad)
    return rows


def _price(bad: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"prediction_id": f"p{k}", "time": (T0 + timedelta(minutes=k)).isoformat(), "prediction": 10.0 + k}
            for k in range(4)]
    rows[BAD] = dict(rows[BAD], **bad)
    return rows


@dataclass(frozen=True)
class Case:
    model: str
    rows: Callable[[], list[Any]]
    error: tuple[int | None, str | None, str]  # (row, field, substring of the reason)
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_batch_rows: int = 100_000
    exc: type[Exception] = ValidationError


CASES: dict[str, Case] = {
    "string_score": Case("churn", lambda: _binary(_with(score="0.7")), (BAD, "score", "expected a number, got str")),
    "bool_score": Case("churn", lambda: _binary(_with(score=True)), (BAD, "score", "expected a number, got bool")),
    "string_numeric_feature": Case("churn", lambda: _binary(_with(f_age="41")),
                                   (BAD, "features.age", "expected a number, got str")),
    "float_as_categorical": Case("churn", lambda: _binary(_with(f_plan=2.5)),
                                 (BAD, "features.plan", "expected a string, got float")),
    "unknown_model": Case("nosuchmodel", lambda: _binary(good_binary_row(102)), (None, None, "does not exist"),
                          exc=NotFoundError),
    "unknown_version": Case("churn", lambda: _binary(good_binary_row(102)), (None, None, "no version 'v9'"),
                            kwargs={"version": "v9"}, exc=NotFoundError),
    "unknown_feature": Case("churn", lambda: _binary(_with(f_height=180.0)),
                            (BAD, "features.height", "not a feature of model 'churn'")),
    "unknown_class_prediction": Case("churn", lambda: _binary(_with(prediction="maybe")),
                                     (BAD, "prediction", "not a class label")),
    "unknown_class_label": Case("churn", lambda: _binary(_with(label="maybe")), (BAD, "label", "not a class label")),
    "nan_score": Case("churn", lambda: _binary(_with(score=float("nan"))), (BAD, "score", "NaN")),
    "score_out_of_range": Case("churn", lambda: _binary(_with(score=1.5)), (BAD, "score", "within [0, 1]")),
    "infinite_feature": Case("churn", lambda: _binary(_with(f_income=float("inf"))),
                             (BAD, "features.income", "infinite")),
    "negative_latency": Case("churn", lambda: _binary(_with(latency_ms=-1.0)), (BAD, "latency_ms", ">= 0")),
    "infinite_latency": Case("churn", lambda: _binary(_with(latency_ms=float("inf"))), (BAD, "latency_ms", "infinite")),
    "huge_latency": Case("churn", lambda: _binary(_with(latency_ms=1e200)), (BAD, "latency_ms", "magnitude must be 0")),
    "tiny_feature": Case("churn", lambda: _binary(_with(f_income=1e-170)), (BAD, "features.income", "magnitude must be 0")),
    "huge_regression_prediction": Case("price", lambda: _price({"prediction": -1e101}),
                                       (BAD, "prediction", "magnitude must be 0")),
    "tiny_regression_label": Case("price", lambda: _price({"label": 1e-101}), (BAD, "label", "magnitude must be 0")),
    "probabilities_wrong_length": Case("iris", lambda: _iris({"probabilities": [0.5, 0.5]}),
                                       (BAD, "probabilities", "must have 3 entries")),
    "probabilities_not_summing_to_1": Case("iris", lambda: _iris({"probabilities": [0.5, 0.5, 0.5]}),
                                           (BAD, "probabilities", "must sum to 1")),
    "probabilities_negative": Case("iris", lambda: _iris({"probabilities": [-0.5, 0.5, 1.0]}),
                                   (BAD, "probabilities", "within [0, 1]")),
    "probabilities_unknown_class": Case("iris", lambda: _iris({"probabilities": {"rose": 1.0}}),
                                        (BAD, "probabilities", "unknown classes")),
    "multiclass_no_prediction": Case("iris", lambda: _iris({"probabilities": None}),
                                     (BAD, "prediction", "give a prediction or probabilities")),
    "naive_timestamp": Case("churn", lambda: _binary(_with(time="2026-03-01T10:00:00")), (BAD, "time", "no timezone")),
    "unparsable_timestamp": Case("churn", lambda: _binary(_with(time="yesterday at noon")),
                                 (BAD, "time", "not an ISO 8601 timestamp")),
    "epoch_number_timestamp": Case("churn", lambda: _binary(_with(time=1_772_000_000)),
                                   (BAD, "time", "expected an ISO 8601 timestamp string")),
    "timestamp_out_of_range": Case("churn", lambda: _binary(_with(time="1970-01-21T00:00:00Z")),
                                   (BAD, "time", "outside")),
    "missing_time": Case("churn", lambda: _binary(_with(time=_DROP)), (BAD, "time", "required")),
    "missing_prediction_id": Case("churn", lambda: _binary(_with(prediction_id=_DROP)),
                                  (BAD, "prediction_id", "required")),
    "overlong_prediction_id": Case("churn", lambda: _binary(_with(prediction_id="x" * 201)),
                                   (BAD, "prediction_id", "1–200 characters")),
    "duplicate_ids_in_batch": Case("churn", lambda: _binary(_with(prediction_id="g-100")),
                                   (BAD, "prediction_id", "duplicate prediction_id within the batch")),
    "empty_batch": Case("churn", lambda: [], (None, None, "empty batch")),
    "oversized_batch": Case("churn", lambda: [good_binary_row(100 + k) for k in range(6)],
                            (None, None, "exceeds the limit of 5"), max_batch_rows=5),
    "non_nullable_feature_missing": Case("churn", lambda: _binary(_without_feature("tenure")),
                                         (BAD, "features.tenure", "non-nullable")),
    "non_nullable_feature_nan": Case("churn", lambda: _binary(_with(f_tenure=float("nan"))),
                                     (BAD, "features.tenure", "non-nullable")),
    "regression_with_score": Case("price", lambda: _price({"score": 0.3}), (BAD, "score", "not used by a regression")),
    "regression_string_prediction": Case("price", lambda: _price({"prediction": "high"}),
                                         (BAD, "prediction", "expected a number")),
    "unknown_top_level_field": Case("churn", lambda: _binary(_with(colour="red")), (BAD, "colour", "unknown field")),
    "row_not_an_object": Case("churn", lambda: _binary(["g-102", 0.4]), (BAD, None, "expected an object, got list")),
    "features_not_an_object": Case("churn", lambda: _binary(_with(features=[1, 2])),
                                   (BAD, "features", "expected an object")),
    "segment_not_a_string": Case("churn", lambda: _binary(_with(segments={"region": ["eu"]})),
                                 (BAD, "segments.region", "expected a string")),
    "segment_value_too_long": Case("churn", lambda: _binary(_with(segments={"region": "x" * 201})),
                                   (BAD, "segments.region", "longer than 200")),
    "segment_key_with_quote": Case("churn", lambda: _binary(_with(segments={'a"b': "x"})),
                                   (None, 'segments.a"b', "segment keys are letters")),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_bad_input_is_refused_and_changes_nothing(
    name: str, shared: tuple[asyncpg.Pool, dict[str, ModelSpec]]
) -> None:
    pool, _ = shared
    case = CASES[name]
    before = await snapshot(pool)
    assert before.predictions and before.labels and before.metrics and before.rejected and before.batches
    async with unit_from_pool(pool) as uow:
        svc = IngestService(uow, max_batch_rows=case.max_batch_rows)
        with pytest.raises(case.exc) as info:
            await svc.log_predictions(case.model, case.rows(), idempotency_key=f"key-{name}", **case.kwargs)
    row, fld, reason = case.error
    if isinstance(info.value, ValidationError):
        errors = info.value.errors
        assert any(e.row == row and e.field == fld and reason in e.reason for e in errors), errors
        # Nothing is reported against the good rows.
        assert {e.row for e in errors} == {row}, errors
        json.dumps([e.to_dict() for e in errors])
    else:
        assert reason in str(info.value)
    assert await snapshot(pool) == before


# Row-level cases a binary model can take together in one partial batch.
PARTIAL_BINARY = [n for n, c in CASES.items() if c.model == "churn" and c.error[0] == BAD and not c.kwargs]


async def test_partial_mode_stores_exactly_the_good_rows(pool: asyncpg.Pool, models: dict[str, ModelSpec], uow: UnitOfWork) -> None:
    rows: list[Any] = []
    bad_rows: dict[int, tuple[str | None, str]] = {}
    for k, name in enumerate(PARTIAL_BINARY):
        rows.append(good_binary_row(1000 + 2 * k))
        bad = CASES[name].rows()[BAD]
        if name == "duplicate_ids_in_batch":
            bad["prediction_id"] = rows[-1]["prediction_id"]  # repeats the good row just before it
        elif isinstance(bad, dict) and "prediction_id" in bad and name != "overlong_prediction_id":
            bad["prediction_id"] = f"bad-{k}"
        bad_rows[len(rows)] = CASES[name].error[1:]
        rows.append(bad)
    assert len(bad_rows) >= 25
    result = await IngestService(uow).log_predictions("churn", rows, partial=True, idempotency_key="mixed")
    good_ids = {r["prediction_id"] for i, r in enumerate(rows) if i not in bad_rows}
    assert (result.received, result.written, result.rejected) == (len(rows), len(good_ids), len(bad_rows))
    assert {e.row for e in result.errors} == set(bad_rows)

    stored = {r["prediction_id"] for r in await pool.fetch("SELECT prediction_id FROM predictions")}
    assert stored == good_ids
    rejected = await pool.fetch("SELECT * FROM rejected_rows ORDER BY row_index, id")
    assert {r["row_index"] for r in rejected} == set(bad_rows)
    assert {(r["kind"], r["model_id"], r["batch_key"]) for r in rejected} == {("predictions", models["churn"].id, "mixed")}
    for i, (fld, reason) in bad_rows.items():
        mine = [r for r in rejected if r["row_index"] == i]
        assert any(r["field"] == fld and reason in r["reason"] for r in mine), (i, fld, reason, mine)
        payload = json.loads(mine[0]["payload"])
        if isinstance(rows[i], dict):
            assert payload.get("prediction_id") == rows[i].get("prediction_id")
            assert payload.keys() == rows[i].keys()
        else:
            assert payload == rows[i]


async def test_partial_mode_still_refuses_batch_level_errors(pool: asyncpg.Pool, models: dict[str, ModelSpec], uow: UnitOfWork) -> None:
    before = await snapshot(pool)
    with pytest.raises(ValidationError, match="empty batch"):
        await IngestService(uow).log_predictions("churn", [], partial=True)
    with pytest.raises(ValidationError, match="exceeds the limit"):
        await IngestService(uow, max_batch_rows=2).log_predictions(
            "churn", [good_binary_row(k) for k in range(3)], partial=True)
    assert await snapshot(pool) == before
