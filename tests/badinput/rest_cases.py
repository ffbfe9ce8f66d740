"""The REST table: every entry point that writes (ingest of predictions, labels and metrics in each media type,
the registry) and the reads' path and query parameters, each with the expected status and error.

`Expect.row`/`field`/`reason` name one error of the answer's `errors`; `field="detail"` means the reason is
in the answer's `detail` instead (404, 405, 409, 415 carry no per-row errors)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl

from tests.ingest.support import T0, good_binary_row
from tests.ingest.test_bad_inputs import CASES, Case

PRED = "/api/v1/models/churn/predictions"
LABELS = "/api/v1/models/churn/labels"
METRICS = "/api/v1/metrics"
MODELS = "/api/v1/models/"
JSON = "application/json"
NDJSON = "application/x-ndjson"
ARROW = "application/vnd.apache.arrow.stream"
ARROW_FILE = "application/vnd.apache.arrow.file"
PARQUET = "application/vnd.apache.parquet"
NUL = "a\u0000b"
BIG = 10**400
DETAIL = "detail"


@dataclass(frozen=True)
class Expect:
    status: int
    row: int | None
    field: str | None
    reason: str


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None
    expect: Expect
    ctype: str | None = JSON
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _rows(n: int = 4, base: int = 500) -> list[dict[str, Any]]:
    return [good_binary_row(base + k) for k in range(n)]


def _frame(n: int = 4, **columns: Any) -> pl.DataFrame:
    rows = _rows(n)
    data: dict[str, Any] = {
        "prediction_id": [r["prediction_id"] for r in rows],
        "time": [T0 + timedelta(minutes=k) for k in range(n)],
        "score": [r["score"] for r in rows],
        "age": [30.0] * n, "plan": ["pro"] * n, "income": [1000.0] * n, "tenure": [3.0] * n,
        "channel": ["web"] * n,
    }
    data.update(columns)
    return pl.DataFrame(data).with_columns(pl.col("time").dt.replace_time_zone("UTC"))


def _arrow(frame: pl.DataFrame, *, file: bool = False) -> bytes:
    buf = io.BytesIO()
    if file:
        frame.write_ipc(buf)
    else:
        frame.write_ipc_stream(buf)
    return buf.getvalue()


def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def _arrow_without_end_marker() -> bytes:
    body = _arrow(_frame())
    assert body.endswith(b"\xff\xff\xff\xff\x00\x00\x00\x00")
    return body[:-8]


def _deep(levels: int) -> bytes:
    row = good_binary_row(700)
    text = json.dumps(row)
    return ("[" + text[:-1] + ', "features": ' + "[" * levels + "]" * levels + "}]").encode()


def _ndjson(rows: list[Any]) -> bytes:
    return b"\n".join(json.dumps(r).encode() for r in rows)


def _row_case(case: Case) -> Request:
    """A case of the service-level table (tests/ingest/test_bad_inputs.py) sent as a JSON body."""
    rows = case.rows()
    params = {k: str(v) for k, v in case.kwargs.items()}
    path = f"/api/v1/models/{case.model}/predictions"
    row, fld, reason = case.error
    if any(_has_non_finite(r) for r in rows):  # JSON has no NaN/Infinity: the body itself is malformed
        return Request("POST", path, json.dumps(rows).encode(), Expect(400, None, "body", "malformed JSON"),
                       params=params)
    if case.exc.__name__ == "NotFoundError":
        return Request("POST", path, _json(rows), Expect(404, None, DETAIL, reason), params=params)
    return Request("POST", path, _json(rows), Expect(422, row, fld, reason), params=params)


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def _with(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**row, **changes}


def _metric(**changes: Any) -> dict[str, Any]:
    return {"name": "latency_cost", "value": 1.5, "time": T0.isoformat(), "tags": {"region": "eu"}, **changes}


def _model(**changes: Any) -> dict[str, Any]:
    return {"name": "bad_model", "task": "binary", "class_labels": ["no", "yes"], "threshold": 0.5,
            "features": [{"name": "x", "kind": "numeric"}], **changes}


ROW_CASES: dict[str, Request] = {
    f"row_{name}": _row_case(case) for name, case in CASES.items() if case.max_batch_rows == 100_000
}

BODY_CASES: dict[str, Request] = {
    # content types (finding 7: only the documented media types are read)
    "text_plain": Request("POST", PRED, _json(_rows()), Expect(415, None, DETAIL, "unsupported content type 'text/plain'"),
                          ctype="text/plain"),
    "no_content_type": Request("POST", PRED, _json(_rows()), Expect(415, None, DETAIL, "content type"), ctype=None),
    "form_urlencoded": Request("POST", PRED, b"rows=1", Expect(415, None, DETAIL, "application/x-www-form-urlencoded"),
                               ctype="application/x-www-form-urlencoded"),
    "multipart": Request("POST", PRED, b"--x\r\n\r\n--x--", Expect(415, None, DETAIL, "multipart/form-data"),
                         ctype="multipart/form-data; boundary=x"),
    "csv": Request("POST", PRED, b"prediction_id,score\na,0.5\n", Expect(415, None, DETAIL, "text/csv"), ctype="text/csv"),
    # JSON shape
    "json_truncated": Request("POST", PRED, _json(_rows())[:-7], Expect(400, None, "body", "malformed JSON")),
    "json_empty_body": Request("POST", PRED, b"", Expect(400, None, "body", "empty request body")),
    "json_whitespace_body": Request("POST", PRED, b"  \n ", Expect(400, None, "body", "empty request body")),
    "json_scalar": Request("POST", PRED, b"42", Expect(400, None, "body", "expected a JSON array")),
    "json_object_without_rows": Request("POST", PRED, b'{"prediction_id": "x"}',
                                        Expect(400, None, "body", "expected a JSON array")),
    "json_rows_not_a_list": Request("POST", PRED, b'{"rows": 3}', Expect(400, None, "body", "rows")),
    "json_empty_array": Request("POST", PRED, b"[]", Expect(422, None, None, "empty batch")),
    "json_too_many_rows": Request("POST", PRED, _json(_rows(501)), Expect(422, None, None, "exceeds the limit of 500")),
    "json_deep_nesting": Request("POST", PRED, _deep(1000), Expect(400, None, "body", "nest")),
    "json_nan_literal": Request("POST", PRED, _json(_rows()).replace(b'"latency_ms": 5.0', b'"latency_ms": NaN', 1),
                                Expect(400, None, "body", "malformed JSON")),
    "json_not_utf8": Request("POST", PRED, b'[{"prediction_id": "\xff\xfe"}]', Expect(400, None, "body", "malformed JSON")),
    "json_huge_integer_score": Request("POST", PRED, _json([_with(good_binary_row(800), score=BIG)]),
                                       Expect(422, 0, "score", "")),
    "json_huge_integer_feature": Request(
        "POST", PRED, _json([_with(good_binary_row(801), features={"age": BIG, "tenure": 1})]),
        Expect(422, 0, "features.age", "")),
    "json_nul_prediction_id": Request("POST", PRED, _json([_with(good_binary_row(802), prediction_id=NUL)]),
                                      Expect(422, 0, "prediction_id", "NUL")),
    "json_nul_category": Request(
        "POST", PRED, _json([_with(good_binary_row(803), features={"plan": NUL, "tenure": 1})]),
        Expect(422, 0, "features.plan", "NUL")),
    "json_nul_segment": Request("POST", PRED, _json([_with(good_binary_row(804), segments={"region": NUL})]),
                                Expect(422, 0, "segments.region", "NUL")),
    "json_string_number": Request("POST", PRED, _json([_with(good_binary_row(805), score="0.5")]),
                                  Expect(422, 0, "score", "expected a number, got str")),
    # NDJSON
    "ndjson_bad_line": Request("POST", PRED, _ndjson(_rows(2)) + b"\n{oops", Expect(400, 2, "body", "malformed JSON on line 3"),
                               ctype=NDJSON),
    "ndjson_invalid_row": Request("POST", PRED, _ndjson([good_binary_row(810), _with(good_binary_row(811), score=2.0)]),
                                  Expect(422, 1, "score", "within [0, 1]"), ctype=NDJSON),
    "ndjson_array_line": Request("POST", PRED, _ndjson([good_binary_row(812), [1, 2]]),
                                 Expect(422, 1, None, "expected an object"), ctype=NDJSON),
    # Arrow IPC and Parquet
    "arrow_garbage": Request("POST", PRED, b"\x00\x01garbage", Expect(400, None, "body", "not a valid Arrow IPC"),
                             ctype=ARROW),
    "arrow_no_end_marker": Request("POST", PRED, _arrow_without_end_marker(), Expect(400, None, "body", "end"),
                                   ctype=ARROW),
    "arrow_file_as_stream": Request("POST", PRED, _arrow(_frame(), file=True), Expect(400, None, "body", "Arrow"),
                                    ctype=ARROW),
    "arrow_file_garbage": Request("POST", PRED, b"ARROW1\x00\x00junk", Expect(400, None, "body", "Arrow"),
                                  ctype=ARROW_FILE),
    "arrow_unknown_column": Request("POST", PRED, _arrow(_frame(colour=["red"] * 4)),
                                    Expect(422, None, "colour", "unknown column"), ctype=ARROW),
    "arrow_score_out_of_range": Request("POST", PRED, _arrow(_frame(score=[0.1, 0.2, 1.7, 0.3])),
                                        Expect(422, 2, "score", "within [0, 1]"), ctype=ARROW),
    "arrow_string_score": Request("POST", PRED, _arrow(_frame(score=["a", "b", "c", "d"])),
                                  Expect(422, None, "score", "expected a numeric column, got String"), ctype=ARROW),
    "parquet_garbage": Request("POST", PRED, b"PAR1 not really", Expect(400, None, "body", "not a valid Parquet body"),
                               ctype=PARQUET),
    "parquet_naive_time": Request("POST", PRED, _parquet(_frame().with_columns(pl.col("time").dt.replace_time_zone(None))),
                                  Expect(422, None, "time", "no timezone"), ctype=PARQUET),
    "parquet_missing_id_column": Request("POST", PRED, _parquet(_frame().drop("prediction_id")),
                                         Expect(422, 0, "prediction_id", "required"), ctype=PARQUET),
    "parquet_negative_age": Request("POST", PRED, _parquet(_frame(latency_ms=[1.0, 2.0, -3.0, 4.0])),
                                    Expect(422, 2, "latency_ms", ">= 0"), ctype=PARQUET),
    # query parameters and headers of ingest
    "partial_not_a_bool": Request("POST", PRED, _json(_rows()), Expect(400, None, "partial", ""),
                                  params={"partial": "maybe"}),
    "unknown_version": Request("POST", PRED, _json(_rows()), Expect(404, None, DETAIL, "no version 'v7'"),
                               params={"version": "v7"}),
    "nul_version": Request("POST", PRED, _json(_rows()), Expect(400, None, DETAIL, "NUL character (%00) in the query string"),
                           params={"version": NUL}),
    "segment_columns_unknown": Request("POST", PRED, _arrow(_frame()), Expect(422, None, "nosuch", "column"),
                                       ctype=ARROW, params={"segment_columns": "nosuch"}),
    "idempotency_key_too_long": Request("POST", PRED, _json(_rows()), Expect(400, None, "idempotency_key", "length <= 200"),
                                        headers={"Idempotency-Key": "k" * 201}),
    "unknown_model": Request("POST", "/api/v1/models/nope/predictions", _json(_rows()),
                             Expect(404, None, DETAIL, "'nope' does not exist")),
    # labels
    "labels_unknown_class": Request("POST", LABELS, _json([{"prediction_id": "g-1", "label": "maybe"}]),
                                    Expect(422, 0, "label", "not a class label")),
    "labels_missing_id": Request("POST", LABELS, _json([{"label": "churn"}]), Expect(422, 0, "prediction_id", "required")),
    "labels_nul_id": Request("POST", LABELS, _json([{"prediction_id": NUL, "label": "churn"}]),
                             Expect(422, 0, "prediction_id", "NUL")),
    "labels_naive_time": Request("POST", LABELS, _json([{"prediction_id": "g-1", "label": "churn",
                                                          "label_time": "2026-03-01T10:00:00"}]),
                                 Expect(422, 0, "label_time", "no timezone")),
    "labels_unknown_field": Request("POST", LABELS, _json([{"prediction_id": "g-1", "label": "churn", "x": 1}]),
                                    Expect(422, 0, "x", "unknown field")),
    "labels_text_plain": Request("POST", LABELS, _json([{"prediction_id": "g-1", "label": "churn"}]),
                                 Expect(415, None, DETAIL, "text/plain"), ctype="text/plain"),
    # metrics
    "metrics_string_value": Request("POST", METRICS, _json([_metric(value="1.5")]),
                                    Expect(422, 0, "value", "a number")),
    "metrics_missing_name": Request("POST", METRICS, _json([{"value": 1.0, "time": T0.isoformat()}]),
                                    Expect(422, 0, "name", "required")),
    "metrics_missing_time": Request("POST", METRICS, _json([{"name": "c", "value": 1.0}]), Expect(422, 0, "time", "required")),
    "metrics_nul_name": Request("POST", METRICS, _json([_metric(name=NUL)]), Expect(422, 0, "name", "NUL")),
    "metrics_nul_tag": Request("POST", METRICS, _json([_metric(tags={"k": NUL})]), Expect(422, 0, "tags.k", "NUL")),
    "metrics_huge_tags": Request("POST", METRICS, _json([_metric(tags={f"k{i}": "v" * 150 for i in range(20)})]),
                                 Expect(422, 0, "tags", "")),
    "metrics_tags_not_object": Request("POST", METRICS, _json([_metric(tags=["a"])]), Expect(422, 0, "tags", "object")),
    "metrics_huge_value": Request("POST", METRICS, _json([_metric(value=BIG)]), Expect(422, 0, "value", "")),
    "metrics_unknown_model": Request("POST", METRICS, _json([_metric()]), Expect(404, None, DETAIL, "does not exist"),
                                     params={"model": "nope"}),
    # the registry
    "model_unknown_task": Request("POST", MODELS, _json(_model(task="ranking")), Expect(400, None, "task", "")),
    "model_binary_without_labels": Request("POST", MODELS, _json(_model(class_labels=None)),
                                           Expect(422, None, "class_labels", "")),
    "model_threshold_above_1": Request("POST", MODELS, _json(_model(threshold=1.5)), Expect(422, None, "threshold", "")),
    "model_duplicate_feature": Request("POST", MODELS, _json(_model(features=[{"name": "x", "kind": "numeric"}] * 2)),
                                       Expect(422, None, "features[1].name", "declared twice")),
    "model_unknown_feature_kind": Request("POST", MODELS, _json(_model(features=[{"name": "x", "kind": "text"}])),
                                          Expect(400, None, "features[0].kind", "Invalid enum value 'text'")),
    "model_nul_name": Request("POST", MODELS, _json(_model(name=NUL)), Expect(400, None, "name", "matching regex")),
    "model_nul_description": Request("POST", MODELS, _json(_model(description=NUL)),
                                     Expect(422, None, "description", "NUL character")),
    "model_nul_category": Request("POST", MODELS, _json(_model(features=[{"name": "c", "kind": "categorical",
                                                                        "categories": ["a", NUL]}])),
                                  Expect(422, None, "features[0].categories[1]", "NUL character")),
    "model_invalid_utf8": Request("POST", MODELS, b'{"name": "\xff", "task": "regression"}',
                                  Expect(400, None, "body", "not valid UTF-8")),
    "model_empty_name": Request("POST", MODELS, _json(_model(name="")), Expect(400, None, "name", "matching regex")),
    "model_exists": Request("POST", MODELS, _json(_model(name="churn")), Expect(409, None, DETAIL, "churn")),
    "model_unknown_field": Request("POST", MODELS, _json(_model(colour="red")), Expect(400, None, "data", "unknown field `colour`")),
    "model_text_plain": Request("POST", MODELS, _json(_model()), Expect(415, None, DETAIL, "text/plain"),
                                ctype="text/plain"),
    "version_bad_stage": Request("POST", "/api/v1/models/churn/versions", _json({"version": "v9", "stage": "live"}),
                                 Expect(400, None, "stage", "")),
    "version_exists": Request("POST", "/api/v1/models/churn/versions", _json({"version": "v1"}),
                              Expect(409, None, DETAIL, "v1")),
    "version_unknown_model": Request("POST", "/api/v1/models/nope/versions", _json({"version": "v1"}),
                                     Expect(404, None, DETAIL, "nope")),
    "version_nul_description": Request("POST", "/api/v1/models/churn/versions",
                                       _json({"version": "v9", "description": NUL}), Expect(422, None, "description", "NUL character")),
    # reads: path and query parameters
    "read_nul_model": Request("GET", "/api/v1/models/a%00b", None, Expect(400, None, DETAIL, "NUL character (%00) in the path"), ctype=None),
    "read_bad_start": Request("GET", "/api/v1/models/churn/windows/metrics", None, Expect(400, None, "start", ""), ctype=None,
                              params={"start": "yesterday", "end": "2026-03-02T00:00:00Z"}),
    "read_rejected_limit_zero": Request("GET", "/api/v1/rejected", None, Expect(400, None, "limit", ""), ctype=None,
                                        params={"limit": "0"}),
    "read_rejected_nul_model": Request("GET", "/api/v1/rejected", None, Expect(400, None, DETAIL, "NUL character (%00) in the query"), ctype=None,
                                       params={"model": NUL}),
    "method_not_allowed": Request("PUT", PRED, _json(_rows()), Expect(405, None, DETAIL, "")),
}
