"""Request and response schemas (msgspec Structs) at the API edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from engine.domain import FeatureSpec, ModelSpec, VersionInfo

# The same rules the registry enforces, stated in the schema so clients (and OpenAPI tools) can see them.
ModelName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
VersionName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")]
Key = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")]


class FeatureIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Key
    kind: Literal["numeric", "categorical"]
    min_value: float | None = None
    max_value: float | None = None
    categories: list[str] | None = None
    nullable: bool = True

    def to_spec(self) -> FeatureSpec:
        return FeatureSpec(
            name=self.name, kind=self.kind, min_value=self.min_value, max_value=self.max_value,
            categories=tuple(self.categories) if self.categories is not None else None, nullable=self.nullable,
        )


class ModelIn(msgspec.Struct, forbid_unknown_fields=True):
    name: ModelName
    task: Literal["binary", "multiclass", "regression"]
    features: list[FeatureIn] = []
    class_labels: list[str] | None = None
    threshold: float = 0.5
    dimensions: list[Key] = []
    description: str = ""


class FeatureOut(msgspec.Struct):
    name: str
    kind: str
    position: int
    min_value: float | None
    max_value: float | None
    categories: list[str] | None
    nullable: bool


class ModelOut(msgspec.Struct):
    id: int
    name: str
    task: str
    class_labels: list[str] | None
    threshold: float
    dimensions: list[str]
    description: str
    created_at: datetime
    features: list[FeatureOut]

    @classmethod
    def of(cls, m: ModelSpec) -> ModelOut:
        return cls(
            id=m.id, name=m.name, task=m.task,
            class_labels=list(m.class_labels) if m.class_labels is not None else None,
            threshold=m.threshold, dimensions=list(m.dimensions), description=m.description,
            created_at=m.created_at,
            features=[FeatureOut(**f.to_dict()) for f in m.features],  # type: ignore[arg-type]
        )


class VersionIn(msgspec.Struct, forbid_unknown_fields=True):
    version: VersionName
    stage: Literal["development", "staging", "production"] = "development"
    description: str = ""


class PromoteIn(msgspec.Struct, forbid_unknown_fields=True):
    stage: Literal["staging", "production"] = "production"


class VersionOut(msgspec.Struct):
    version: str
    stage: str
    description: str
    created_at: datetime
    promoted_at: datetime | None
    archived_at: datetime | None

    @classmethod
    def of(cls, v: VersionInfo) -> VersionOut:
        return cls(version=v.version, stage=v.stage, description=v.description, created_at=v.created_at,
                   promoted_at=v.promoted_at, archived_at=v.archived_at)


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
    field: str | None
    reason: str
    payload: object


class HealthOut(msgspec.Struct):
    status: str
    database: str
    timescaledb_version: str | None = None
    timescaledb_license: str | None = None


def error_responses(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses a handler can answer with (all carry `ErrorOut`)."""
    return {code: ResponseSpec(data_container=ErrorOut, description=_ERROR_MEANING[code], generate_examples=False)
            for code in codes}


_ERROR_MEANING = {
    400: "Malformed request (body cannot be decoded, parameter of the wrong type)",
    401: "Missing or wrong X-API-Key",
    404: "Unknown model or version",
    409: "Conflict with what is stored (duplicate name, illegal stage change)",
    413: "Request body too large",
    422: "Invalid input; `errors` lists row, field and reason",
    503: "Database unavailable",
}
