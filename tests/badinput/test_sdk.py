"""Bad input through the Python SDK against a real uvicorn server: the SDK raises `DriftlineAPIError` with the
status and the row errors (rows numbered in the caller's input), retries none of them, and the database is
unchanged. Frames go as Arrow IPC, row lists as JSON (NaN becomes null: a NaN where a value is required is
refused as missing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import polars as pl
import pytest

from engine.sdk import Client, DriftlineAPIError
from tests.badinput.conftest import Target
from tests.badinput.rest_cases import NUL, _frame, _metric
from tests.badinput.support import matches, state
from tests.ingest.support import T0, good_binary_row
from tests.ingest.test_bad_inputs import BAD, CASES


@dataclass(frozen=True)
class SdkCase:
    call: Callable[[Client], Any]
    status: int
    row: int | None
    field: str | None
    reason: str
    exc: type[Exception] = DriftlineAPIError
    stored: tuple[str, ...] = ()  # prediction ids of the batches committed before the refused one


# NaN and infinity in a row list: the SDK sends null for them (JSON has neither).
# The SDK refuses them itself, before sending (a ValueError naming row and field); NaN for a feature is missing.
_NON_FINITE = {
    "nan_score": (BAD, "score", "nan cannot be sent as JSON"),
    "infinite_feature": (BAD, "features.income", "inf cannot be sent as JSON"),
    "infinite_latency": (BAD, "latency_ms", "inf cannot be sent as JSON"),
}


def _row_case(name: str) -> SdkCase:
    case = CASES[name]
    row, fld, reason = _NON_FINITE.get(name) or case.error
    status = 404 if case.exc.__name__ == "NotFoundError" else 422

    def call(dl: Client) -> Any:
        return dl.log_predictions(case.model, case.rows(), **case.kwargs)

    if name in _NON_FINITE:
        return SdkCase(call, 0, row, fld, reason, exc=ValueError)
    return SdkCase(call, status, None if status == 404 else row, None if status == 404 else fld, reason)


ROW_CASES = {f"rows_{n}": _row_case(n) for n, c in CASES.items() if c.max_batch_rows == 100_000 and n != "empty_batch"}

OTHER_CASES: dict[str, SdkCase] = {
    "frame_unknown_column": SdkCase(lambda dl: dl.log_predictions("churn", _frame(colour=["r"] * 4)), 422, None,
                                    "colour", "unknown column"),
    "frame_string_score": SdkCase(lambda dl: dl.log_predictions("churn", _frame(score=["a"] * 4)), 422, None,
                                  "score", "expected a numeric column"),
    "frame_score_out_of_range": SdkCase(lambda dl: dl.log_predictions("churn", _frame(score=[0.1, 0.2, 3.0, 0.1])),
                                        422, 2, "score", "within [0, 1]"),
    "frame_naive_time": SdkCase(lambda dl: dl.log_predictions(
        "churn", _frame().with_columns(pl.col("time").dt.replace_time_zone(None))), 422, None, "time", "no timezone"),
    "frame_missing_tenure": SdkCase(lambda dl: dl.log_predictions("churn", _frame(tenure=[1.0, None, 2.0, 3.0])),
                                    422, 1, "features.tenure", "non-nullable"),
    "frame_second_batch_bad": SdkCase(lambda dl: dl.log_predictions(
        "churn", pl.concat([_frame().with_columns(pl.format("sdk-b1-{}", pl.int_range(4)).alias("prediction_id")),
                            _frame(score=[0.1, 0.2, 0.3, 9.0])]), batch_size=4),
        422, 7, "score", "within [0, 1]", stored=tuple(f"sdk-b1-{k}" for k in range(4))),
    "labels_unknown_class": SdkCase(lambda dl: dl.log_labels("churn", [{"prediction_id": "g-1", "label": "maybe"}]),
                                    422, 0, "label", "not a class label"),
    "labels_nul_id": SdkCase(lambda dl: dl.log_labels("churn", [{"prediction_id": NUL, "label": "churn"}]),
                             422, 0, "prediction_id", "NUL"),
    "labels_unknown_model": SdkCase(lambda dl: dl.log_labels("nope", [{"prediction_id": "a", "label": "x"}]),
                                    404, None, None, "does not exist"),
    "metrics_string_value": SdkCase(lambda dl: dl.log_metrics([_metric(value="x")]), 422, 0, "value", "a number"),
    "metrics_nul_tag": SdkCase(lambda dl: dl.log_metrics([_metric(tags={"k": NUL})]), 422, 0, "tags.k", "NUL"),
    "metrics_naive_time": SdkCase(lambda dl: dl.log_metrics([_metric(time="2026-03-01T00:00:00")]), 422, 0, "time",
                                  "no timezone"),
    "model_bad_task": SdkCase(lambda dl: dl.create_model("m_bad", "ranking", []), 400, None, "task", ""),
    "model_exists": SdkCase(lambda dl: dl.create_model("churn", "regression", []), 409, None, None, "churn"),
    "model_nul_description": SdkCase(lambda dl: dl.create_model("m_nul", "regression", [], description=NUL), 422,
                                     None, "description", "NUL"),
    "version_exists": SdkCase(lambda dl: dl.create_version("churn", "v1"), 409, None, None, "v1"),
    "version_bad_stage": SdkCase(lambda dl: dl.create_version("churn", "v9", stage="live"), 400, None, "stage", ""),
    "version_unknown_model": SdkCase(lambda dl: dl.create_version("nope", "v1"), 404, None, None, "nope"),
}

ALL = {**ROW_CASES, **OTHER_CASES}


@pytest.mark.parametrize("name", list(ALL))
async def test_sdk_bad_input(name: str, target: Target, served: str) -> None:
    case = ALL[name]
    before = await state(target.pool)
    with Client(served) as dl, pytest.raises(case.exc) as info:
        case.call(dl)
    err = info.value
    if isinstance(err, DriftlineAPIError):
        assert err.status == case.status and err.attempts == 1, (name, err)
        if case.field is None and case.row is None:
            assert case.reason in err.detail, (name, err)
        else:
            assert matches(err.errors, case.row, case.field, case.reason), (name, err, err.errors)
        assert err.completed is None or err.completed.written == len(case.stored)
    else:
        assert f"row {case.row}, {case.field}: {case.reason}" in str(err), (name, err)
    after = await state(target.pool)
    added = set(after.ingest.predictions) - set(before.ingest.predictions)
    assert sorted(p[1] for p in added) == sorted(case.stored), name
    if not case.stored:
        assert after == before, name


async def test_sdk_empty_batch_sends_nothing(target: Target, served: str) -> None:
    before = await state(target.pool)
    with Client(served) as dl:
        assert dl.log_predictions("churn", []).written == 0
    assert await state(target.pool) == before


def _good_and_bad(prefix: str) -> list[dict[str, Any]]:
    rows = [dict(good_binary_row(k, T0 + timedelta(days=3)), prediction_id=f"{prefix}-{k}") for k in range(6)]
    rows[1]["score"] = 7.0
    rows[4]["features"] = {**rows[4]["features"], "age": "old"}
    return rows


async def test_sdk_partial_stores_exactly_the_good_rows(target: Target, served: str) -> None:
    before = await state(target.pool)
    with Client(served) as dl:
        summary = dl.log_predictions("churn", _good_and_bad("sdk-partial"), partial=True)
    assert (summary.written, summary.rejected) == (4, 2)
    after = await state(target.pool)
    added = set(after.ingest.predictions) - set(before.ingest.predictions)
    assert sorted(p[1] for p in added) == [f"sdk-partial-{k}" for k in (0, 2, 3, 5)]
    assert after.ingest.rejected == before.ingest.rejected + 2 and after.registry == before.registry
    reasons = await target.pool.fetch("SELECT row_index, field FROM rejected_rows WHERE payload::text LIKE "
                                      "'%sdk-partial%' ORDER BY row_index")
    assert [(r["row_index"], r["field"]) for r in reasons] == [(1, "score"), (4, "features.age")]
