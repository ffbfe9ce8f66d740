"""What the SDK returns for ingest calls: summaries per batch and in total. Registry calls return the
domain types themselves (`engine.domain.ModelSpec`, `VersionInfo`), decoded from the server's answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import RowError


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
    warnings: tuple[RowError, ...] = ()  # stored anyway (e.g. undeclared segment keys); `row` is None

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
            "warnings": [w.to_dict() for w in self.warnings],
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
    def warnings(self) -> tuple[RowError, ...]:
        """The batches' warnings, each once (every batch of a call tends to carry the same ones)."""
        return tuple(dict.fromkeys(w for b in self.batches for w in b.warnings))

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
            "warnings": [w.to_dict() for w in self.warnings],
            "batches": [b.to_dict() for b in self.batches],
        }
