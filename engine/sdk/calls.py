"""The REST API as request descriptions and response parsers, shared by the sync and async clients (they
differ only in how they send)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from engine.domain import DimensionDeclared, FeatureSpec, ModelSpec, NewFeature, VersionInfo
from engine.errors import RowError
from engine.sdk.errors import DriftlineAPIError
from engine.sdk.payloads import JSON, Batch
from engine.sdk.results import BatchResult, IngestSummary

API = "/api/v1"
_encoder = msgspec.json.Encoder()


def _q(segment: str) -> str:
    return quote(segment, safe="")


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    params: Mapping[str, str | Sequence[str]] = field(default_factory=dict)  # a sequence: a repeated parameter
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    repeatable: bool = True  # safe to send again when the first answer was lost

    def __post_init__(self) -> None:
        # The API refuses a write that does not say it is JSON, even with no body (a cross-site request
        # without a content type needs no CORS preflight): every write without a body type of its own is JSON.
        if self.method in ("POST", "PUT", "PATCH", "DELETE") and not any(
            k.lower() == "content-type" for k in self.headers
        ):
            object.__setattr__(self, "headers", {**self.headers, "content-type": JSON})  # frozen: set once here

    @property
    def what(self) -> str:
        return f"{self.method} {self.path}"


def _json_call(method: str, path: str, body: object, repeatable: bool) -> Call:
    return Call(method, path, content=_encoder.encode(body), headers={"content-type": JSON}, repeatable=repeatable)


def _feature_dict(f: Mapping[str, Any] | NewFeature | FeatureSpec) -> dict[str, Any]:
    if isinstance(f, NewFeature | FeatureSpec):
        d: dict[str, Any] = msgspec.to_builtins(f)
        d.pop("position", None)  # assigned by the registry; a FeatureSpec of another model may carry one
        return d
    if isinstance(f, Mapping):
        return dict(f)
    raise TypeError(f"a feature is a dict like {{'name': 'age', 'kind': 'numeric'}}, a NewFeature or a FeatureSpec, "
                    f"got {type(f).__name__}")


def create_model(
    name: str, task: str, features: Sequence[Mapping[str, Any] | NewFeature | FeatureSpec], class_labels: Sequence[str] | None,
    threshold: float, dimensions: Sequence[str], description: str,
) -> Call:
    body = {"name": name, "task": task, "features": [_feature_dict(f) for f in features],
            "class_labels": list(class_labels) if class_labels is not None else None,
            "threshold": threshold, "dimensions": list(dimensions), "description": description}
    # Retried like a read: a create whose answer was lost and that is sent again gets a 409, which
    # `created_model` turns into the model the first attempt created (when it is the one asked for).
    return _json_call("POST", f"{API}/models/", body, repeatable=True)


def get_model(name: str) -> Call:
    return Call("GET", f"{API}/models/{_q(name)}")


def list_models() -> Call:
    return Call("GET", f"{API}/models/")


def create_version(model: str, version: str, stage: str, description: str) -> Call:
    body = {"version": version, "stage": stage, "description": description}
    return _json_call("POST", f"{API}/models/{_q(model)}/versions", body, repeatable=True)


def list_versions(model: str) -> Call:
    return Call("GET", f"{API}/models/{_q(model)}/versions")


def declare_dimension(model: str, key: str) -> Call:
    # Not repeatable: a second declaration of the same key is a 409 (the first went through).
    return _json_call("POST", f"{API}/models/{_q(model)}/dimensions", {"name": key}, repeatable=False)


def parse_dimension(response: httpx.Response, attempts: int) -> DimensionDeclared:
    declared: DimensionDeclared = parse(response, attempts, DimensionDeclared)
    return declared


def promote(model: str, version: str, stage: str) -> Call:
    return _json_call("POST", f"{API}/models/{_q(model)}/versions/{_q(version)}/promote", {"stage": stage}, repeatable=True)


def archive(model: str, version: str) -> Call:
    # An empty body, still declared JSON: the server refuses a POST without a JSON content type (no
    # cross-site form can then make one).
    return Call("POST", f"{API}/models/{_q(model)}/versions/{_q(version)}/archive", headers={"content-type": JSON})


@dataclass(frozen=True, slots=True)
class IngestTarget:
    kind: str
    path: str
    params: dict[str, str]
    # A caller-chosen key makes a whole call exactly-once across runs (batch i sends "<key>:<i>");
    # without one each batch gets a fresh uuid4, which makes its retries safe within this call.
    idempotency_key: str | None = None

    def batch_key(self, batch_index: int) -> str:
        if self.idempotency_key is None:
            return str(uuid.uuid4())
        return f"{self.idempotency_key}:{batch_index}"


def predictions_target(model: str, version: str | None, partial: bool, segment_columns: Sequence[str],
                       idempotency_key: str | None = None) -> IngestTarget:
    if isinstance(segment_columns, str):
        raise TypeError("segment_columns is a list of column names, not a string")
    params = {"partial": "true" if partial else "false"}
    if version is not None:
        params["version"] = version
    if segment_columns:
        params["segment_columns"] = ",".join(segment_columns)
    return IngestTarget("predictions", f"{API}/models/{_q(model)}/predictions", params, idempotency_key)


def labels_target(model: str, partial: bool, idempotency_key: str | None = None) -> IngestTarget:
    return IngestTarget("labels", f"{API}/models/{_q(model)}/labels", {"partial": "true" if partial else "false"},
                        idempotency_key)


def metrics_target(model: str | None, partial: bool, idempotency_key: str | None = None) -> IngestTarget:
    params = {"partial": "true" if partial else "false"}
    if model is not None:
        params["model"] = model
    return IngestTarget("metrics", f"{API}/metrics", params, idempotency_key)


def ingest_call(target: IngestTarget, batch: Batch, key: str) -> Call:
    return Call("POST", target.path, params=target.params, content=batch.content,
                headers={"content-type": batch.content_type, "idempotency-key": key})


def _body(response: httpx.Response) -> Any:
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return response.text


def _row_errors(raw: object, offset: int) -> tuple[RowError, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for e in raw:
        if isinstance(e, dict):
            row = e.get("row")
            out.append(RowError(row + offset if isinstance(row, int) else None, e.get("field"), str(e.get("reason"))))
    return tuple(out)


def api_error(response: httpx.Response, attempts: int, batch: Batch | None = None,
              completed: IngestSummary | None = None) -> DriftlineAPIError:
    body = _body(response)
    detail = body.get("detail", "") if isinstance(body, dict) else str(body)[:500]
    raw_errors = body.get("errors") if isinstance(body, dict) else None
    return DriftlineAPIError(
        response.status_code, str(detail or response.reason_phrase), _row_errors(raw_errors, batch.offset if batch else 0),
        body=body, batch=batch.index if batch else None, batch_offset=batch.offset if batch else 0,
        attempts=attempts, completed=completed,
    )


def parse(response: httpx.Response, attempts: int, type_: type[Any]) -> Any:
    if response.status_code >= 400:
        raise api_error(response, attempts)
    return msgspec.json.decode(response.content, type=type_)


def parse_model(response: httpx.Response, attempts: int) -> ModelSpec:
    model: ModelSpec = parse(response, attempts, ModelSpec)
    return model


def parse_models(response: httpx.Response, attempts: int) -> list[ModelSpec]:
    models: list[ModelSpec] = parse(response, attempts, list[ModelSpec])
    return models


def parse_version(response: httpx.Response, attempts: int) -> VersionInfo:
    version: VersionInfo = parse(response, attempts, VersionInfo)
    return version


def parse_versions(response: httpx.Response, attempts: int) -> list[VersionInfo]:
    versions: list[VersionInfo] = parse(response, attempts, list[VersionInfo])
    return versions


def batch_result(response: httpx.Response, attempts: int, batch: Batch, key: str,
                 completed: Sequence[BatchResult], kind: str) -> BatchResult:
    """The batch's result, or a `DriftlineAPIError` (raised) carrying the batches that went through."""
    if response.status_code >= 400:
        raise api_error(response, attempts, batch, IngestSummary(kind, tuple(completed)))
    body = msgspec.json.decode(response.content)
    return BatchResult(
        index=batch.index, offset=batch.offset, rows=batch.rows, idempotency_key=key,
        status_code=response.status_code, written=body["written"], duplicates=body["duplicates"],
        rejected=body["rejected"], errors=_row_errors(body.get("errors"), batch.offset),
        error_count=body["error_count"], replayed=body["replayed"], attempts=attempts,
        warnings=_row_errors(body.get("warnings"), 0),
    )


def created_model(response: httpx.Response, attempts: int, name: str, task: str) -> ModelSpec | None:
    """None when the create must be confirmed by reading the model back: a 409 on a retried create (the
    first attempt may have gone through before its answer was lost). Otherwise the parsed answer."""
    if response.status_code == 409 and attempts > 1:
        return None
    return parse_model(response, attempts)


def confirm_created_model(model: ModelSpec, task: str, conflict: httpx.Response, attempts: int) -> ModelSpec:
    if model.task != task:
        parse_model(conflict, attempts)  # raises the 409
    return model


def created_version(response: httpx.Response, attempts: int) -> VersionInfo | None:
    if response.status_code == 409 and attempts > 1:
        return None
    return parse_version(response, attempts)


def delete_predictions(model: str, prediction_ids: Sequence[str] | None, start: datetime | None,
                       end: datetime | None) -> Call:
    """`DELETE /models/{model}/predictions`: the given ids, those in [start, end), or the ids within it. Not
    repeated on a lost answer: a second delete would answer 0."""
    params: dict[str, str | Sequence[str]] = {}
    if prediction_ids is not None:
        params["prediction_id"] = list(prediction_ids)
    if start is not None:
        params["start"] = start.isoformat()
    if end is not None:
        params["end"] = end.isoformat()
    return Call("DELETE", f"{API}/models/{_q(model)}/predictions", params=params, repeatable=False)
