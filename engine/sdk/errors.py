"""Errors the SDK raises. Every one carries what was already stored before it happened (`completed`), so a
caller can resume after the last batch that went through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import RowError

if TYPE_CHECKING:
    from engine.sdk.results import IngestSummary


class DriftlineClientError(Exception):
    """Base of the SDK's errors."""

    def __init__(self, message: str, *, attempts: int = 1, completed: IngestSummary | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.completed = completed


class DriftlineAPIError(DriftlineClientError):
    """The server answered with an error status (any 4xx, or a 5xx/429 that outlasted every retry).

    `errors` are the per-row errors of the response. For ingest calls their `row` is renumbered to the
    position in the caller's input (batch offset added); `batch` and `batch_offset` say which batch failed.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        errors: tuple[RowError, ...] = (),
        *,
        body: Any = None,
        batch: int | None = None,
        batch_offset: int = 0,
        attempts: int = 1,
        completed: IngestSummary | None = None,
    ) -> None:
        where = f" (batch {batch}, rows from {batch_offset})" if batch is not None else ""
        first = "; ".join(str(e) for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"HTTP {status}{where}: {detail}{': ' + first + more if first else ''}",
                         attempts=attempts, completed=completed)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.body = body
        self.batch = batch
        self.batch_offset = batch_offset


class DriftlineConnectionError(DriftlineClientError):
    """The server could not be reached (connection refused or dropped, timeout) on every attempt."""
