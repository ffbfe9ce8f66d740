"""Request and response schemas (msgspec Structs) at the API edge. Models and versions are described by
the domain types themselves (`engine.domain`: `NewModel` in, `ModelSpec` / `VersionInfo` out); what is
here is what only HTTP needs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from engine.domain import VersionName


class VersionIn(msgspec.Struct, forbid_unknown_fields=True):
    version: VersionName
    stage: Literal["development", "staging", "production"] = "development"
    description: str = ""


class PromoteIn(msgspec.Struct, forbid_unknown_fields=True):
    stage: Literal["staging", "production"] = "production"


class RowErrorOut(msgspec.Struct):
    row: int | None
    field: str | None
    reason: str


class IngestOut(msgspec.Struct):
    kind: str
    received: int
    written: int
    duplicates: int
    rejected: int
    errors: list[RowErrorOut]
    error_count: int
    replayed: bool
    # stored anyway, but worth knowing: e.g. segment keys that are not declared dimensions (`field`
    # `segments.<key>`), which the windows cannot group or filter by
    warnings: list[RowErrorOut] = []


class DeletedOut(msgspec.Struct):
    deleted: int  # predictions deleted (the windows recompute their ranges at the next refresh)


class ErrorOut(msgspec.Struct):
    status_code: int
    detail: str
    errors: list[RowErrorOut] = []


class RejectedOut(msgspec.Struct):
    id: int
    received_at: datetime
    kind: str
    model_id: int | None
    batch_key: str | None
    row_index: int
    field: str | None  # the row's first error (all of them in `errors`)
    reason: str
    payload: object  # the row as sent, or {"truncated": true, "chars": n, "head": "..."} beyond 4 KiB
    errors: list[RejectedError] = []


class RejectedError(msgspec.Struct):
    field: str | None
    reason: str


class LiveOut(msgspec.Struct):
    status: Literal["ok"]


class HealthOut(msgspec.Struct):
    status: str
    database: str
    timescaledb_version: str | None = None
    timescaledb_license: str | None = None


def replayed_response() -> dict[int, ResponseSpec]:
    """The 200 an ingest handler answers when an `Idempotency-Key` was seen before (201 is the first answer)."""
    return {200: ResponseSpec(data_container=IngestOut, generate_examples=False,
                              description="Replayed: the stored answer to the first request with this Idempotency-Key")}


def error_responses(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses a handler can answer with (all carry `ErrorOut`). A route
    that can answer 401 (every non-public one, api/auth.py) can also answer 403 (wrong scope or model) and
    429 (rate limits, with Retry-After): listed with it, so that routes added later document them too."""
    if 401 in codes:
        codes = (*codes, *(c for c in (403, 429) if c not in codes))
    return {code: ResponseSpec(data_container=ErrorOut, description=_ERROR_MEANING[code], generate_examples=False)
            for code in sorted(codes)}


_ERROR_MEANING = {
    400: "Malformed request (body cannot be decoded, parameter of the wrong type)",
    401: "Missing, wrong or revoked API key (X-API-Key or Authorization: Bearer); see WWW-Authenticate",
    403: "The API key lacks the scope this operation needs, or is not allowed this model",
    429: "Rate limit reached (ingest per key, failed authentications per address); see Retry-After",
    404: "Unknown model or version",
    409: "Conflict with what is stored (duplicate name, illegal stage change)",
    405: "Method not allowed (the Allow header lists the allowed ones)",
    413: "Request body too large (on the wire, or once decoded)",
    415: "Unsupported content type: send application/json (ingest: also NDJSON, Arrow IPC, Parquet)",
    422: "Invalid input; `errors` lists row, field and reason",
    503: "Database unavailable",
}


class KeyIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new API key: `scopes` among ingest, read, admin (admin holds all); `models` limits the key to
    those models (null: every model)."""

    name: str
    scopes: list[str]
    models: list[str] | None = None
    comment: str = ""


class KeyOut(msgspec.Struct):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    models: list[str] | None
    comment: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class IssuedKeyOut(msgspec.Struct):
    """The key and its token: the token is shown this once (only its keyed hash is stored)."""

    token: str
    key: KeyOut
