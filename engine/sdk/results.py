"""What the SDK returns: ingest summaries (per batch and in total) and registry records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.domain import FeatureSpec as Feature  # the same description of a feature on both sides
from engine.errors import RowError


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The server's answer for one batch. `errors` rows are positions in the caller's input."""

    index: int
    offset: int
    rows: int
    idempotency_key: str
    status_code: int
    written: int
    duplicates: int
    rejected: int
    errors: tuple[RowError, ...]
    error_count: int
    replayed: bool
    attempts: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "offset": self.offset,
            "rows": self.rows,
            "idempotency_key": self.idempotency_key,
            "status_code": self.status_code,
            "written": self.written,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [e.to_dict() for e in self.errors],
            "error_count": self.error_count,
            "replayed": self.replayed,
            "attempts": self.attempts,
        }


@dataclass(frozen=True, slots=True)
class IngestSummary:
    """All batches of one `log_*` call, in input order, and their totals."""

    kind: str
    batches: tuple[BatchResult, ...]

    @property
    def received(self) -> int:
        return sum(b.rows for b in self.batches)

    @property
    def written(self) -> int:
        return sum(b.written for b in self.batches)

    @property
    def duplicates(self) -> int:
        return sum(b.duplicates for b in self.batches)

    @property
    def rejected(self) -> int:
        return sum(b.rejected for b in self.batches)

    @property
    def error_count(self) -> int:
        return sum(b.error_count for b in self.batches)

    @property
    def errors(self) -> tuple[RowError, ...]:
        return tuple(e for b in self.batches for e in b.errors)

    @property
    def replayed_batches(self) -> int:
        return sum(1 for b in self.batches if b.replayed)

    @property
    def retries(self) -> int:
        return sum(b.attempts - 1 for b in self.batches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "received": self.received,
            "written": self.written,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "error_count": self.error_count,
            "replayed_batches": self.replayed_batches,
            "retries": self.retries,
            "batches": [b.to_dict() for b in self.batches],
        }


@dataclass(frozen=True, slots=True)
class Model:
    id: int
    name: str
    task: str
    class_labels: tuple[str, ...] | None
    threshold: float
    dimensions: tuple[str, ...]
    description: str
    created_at: datetime
    features: tuple[Feature, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "task": self.task,
            "class_labels": list(self.class_labels) if self.class_labels is not None else None,
            "threshold": self.threshold,
            "dimensions": list(self.dimensions),
            "description": self.description,
            "created_at": _iso(self.created_at),
            "features": [f.to_dict() for f in self.features],
        }


@dataclass(frozen=True, slots=True)
class ModelVersion:
    version: str
    stage: str
    description: str
    created_at: datetime
    promoted_at: datetime | None = None
    archived_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "stage": self.stage,
            "description": self.description,
            "created_at": _iso(self.created_at),
            "promoted_at": _iso(self.promoted_at),
            "archived_at": _iso(self.archived_at),
        }
