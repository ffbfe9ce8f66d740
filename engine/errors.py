"""Domain errors. The store maps driver errors to these at its edge; the API maps these to HTTP statuses
in one place."""

from __future__ import annotations

from dataclasses import dataclass


class DriftlineError(Exception):
    """Base of every error driftline raises on purpose."""


class NotFoundError(DriftlineError):
    """A named thing (model, version, …) does not exist."""


class ConflictError(DriftlineError):
    """The request contradicts what is stored (duplicate name, illegal stage change, …)."""


class StoreUnavailableError(DriftlineError):
    """The database cannot be reached or refused the connection."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One reason one input row was refused: `row` is its 0-based index in the batch, `field` the
    offending field (dotted for nested ones, e.g. `features.age`) or None for the row as a whole."""

    row: int | None
    field: str | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "field": self.field, "reason": self.reason}

    def __str__(self) -> str:
        where = "batch" if self.row is None else f"row {self.row}"
        return f"{where}, {self.field or '-'}: {self.reason}"


class ValidationError(DriftlineError):
    """The input is not acceptable. `errors` says which row, which field and why."""

    def __init__(self, errors: list[RowError], message: str | None = None) -> None:
        self.errors = errors
        first = "; ".join(str(e) for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(message or f"{len(errors)} invalid input(s): {first}{more}")


class MalformedBodyError(ValidationError):
    """The request body cannot be decoded at all (bad JSON, corrupt Arrow/Parquet, wrong content type)."""


class BodyTooLargeError(MalformedBodyError):
    """The body, once decoded (decompressed), would exceed the configured size limit."""
