"""Data-quality checks over Polars frames: one result type, one registry, shared plumbing.

A check is a frozen dataclass (its fields are its typed parameters) registered under a name, with
`evaluate(frame, max_rows=...) -> CheckResult`. Each check decides, row by row, whether a row fails;
the result carries the counts, the failure rate and the positions (0-based row indices in the frame
as given) of the first `max_rows` failing rows with their offending values, so a user can see which
rows failed and why. `failed_rows_total` is always the full count.

Null policy: every check except completeness (`completeness`, `not_null`) treats a null as "not
applicable" and lets it pass — missing values are counted once, by the completeness checks, rather
than again by every range, type, set or rule check on the same column.

Errors: a column that does not exist, or a check that cannot be applied to the column's type, raises
`QualityCheckError` (a `ValueError`) naming the check and the column. Polars errors never escape.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import polars as pl

from engine.algorithms.registry import Registry

DEFAULT_MAX_ROWS = 100
_ROW = "__driftline_row__"
_FAILED = "__driftline_failed__"


class QualityCheckError(ValueError):
    """A check could not be applied (missing column, incompatible type, bad pattern...)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: str
    target: str
    n_rows: int
    n_failed: int
    reason: str
    failed_rows: tuple[int, ...] = ()
    failed_values: tuple[Any, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    tolerated_rate: float = 0.0

    @property
    def failed_rate(self) -> float:
        """Share of rows that failed; 0.0 for an empty frame (nothing failed)."""
        return self.n_failed / self.n_rows if self.n_rows else 0.0

    @property
    def passed(self) -> bool:
        """No failures, or no more than the check's tolerated share (e.g. `max_null_rate`)."""
        return self.n_failed == 0 or self.failed_rate <= self.tolerated_rate

    @property
    def failed_rows_truncated(self) -> bool:
        return len(self.failed_rows) < self.n_failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "target": self.target,
            "n_rows": self.n_rows,
            "n_failed": self.n_failed,
            "failed_rate": self.failed_rate,
            "tolerated_rate": self.tolerated_rate,
            "passed": self.passed,
            "reason": self.reason,
            "failed_rows": list(self.failed_rows),
            "failed_rows_total": self.n_failed,
            "failed_rows_truncated": self.failed_rows_truncated,
            "failed_values": [json_value(v) for v in self.failed_values],
            "details": {k: json_value(v) for k, v in self.details.items()},
        }


def json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


class QualityCheck(ABC):
    """Base of every registered check; subclasses are frozen dataclasses."""

    name: ClassVar[str]

    @abstractmethod
    def evaluate(self, frame: pl.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS) -> CheckResult:
        """Apply the check to `frame`."""

    def to_spec(self) -> dict[str, Any]:
        """JSON-style spec of this check; `check_from_dict(check.to_spec())` rebuilds it."""
        return {"check": self.name} | {
            f.name: _spec_value(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }


def _spec_value(value: Any) -> Any:
    to_spec = getattr(value, "to_spec", None)
    return to_spec() if callable(to_spec) else json_value(value)


QUALITY_CHECKS: Registry[type[QualityCheck]] = Registry("data-quality check")


def require_columns(check: str, frame: pl.DataFrame, columns: Iterable[str]) -> None:
    if not isinstance(frame, pl.DataFrame):
        raise QualityCheckError(f"{check}: expects a polars DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise QualityCheckError(f"{check}: column(s) {missing} not in frame; columns: {frame.columns}")


def failures(
    check: str,
    target: str,
    frame: pl.DataFrame,
    failed: pl.Expr,
    *,
    reason: str,
    value_columns: Sequence[str],
    max_rows: int,
    details: dict[str, Any] | None = None,
    tolerated_rate: float = 0.0,
) -> CheckResult:
    """Evaluate the boolean expression `failed` (null counts as passing) and build the result.

    The offending values reported are those of `value_columns`: plain values for one column, a
    {column: value} dict per row for several.
    """
    if max_rows < 0:
        raise QualityCheckError(f"{check}: max_rows must be >= 0")
    try:
        flagged = frame.with_row_index(_ROW).with_columns(failed.fill_null(False).alias(_FAILED))
        n_failed = int(flagged[_FAILED].sum())
        offenders = flagged.filter(pl.col(_FAILED)).head(max_rows)
    except pl.exceptions.PolarsError as exc:
        raise QualityCheckError(f"{check}: cannot be evaluated on {target!r}: {exc}") from exc
    values: Sequence[Any]
    if len(value_columns) == 1:
        values = offenders[value_columns[0]].to_list()
    else:
        values = offenders.select(value_columns).to_dicts() if value_columns else ()
    return CheckResult(
        check=check,
        target=target,
        n_rows=frame.height,
        n_failed=n_failed,
        reason=reason,
        failed_rows=tuple(int(i) for i in offenders[_ROW].to_list()),
        failed_values=tuple(values),
        details=details or {},
        tolerated_rate=tolerated_rate,
    )


def run_checks(
    frame: pl.DataFrame, checks: Iterable[QualityCheck], *, max_rows: int = DEFAULT_MAX_ROWS
) -> tuple[CheckResult, ...]:
    """Evaluate several checks on one frame, in order."""
    return tuple(check.evaluate(frame, max_rows=max_rows) for check in checks)


def check_from_dict(spec: dict[str, Any]) -> QualityCheck:
    """Build a check from a JSON-style spec, e.g. ``{"check": "range", "column": "age", "min": 0}``.

    The boundary where rules arrive from configuration or the API: the name picks the class from the
    registry, unknown or missing fields raise `QualityCheckError`, lists become tuples. Nested rules
    (`implies`) and column references (`{"column": "b"}` as `right` of `compare`) are handled by the
    rule classes' `from_spec`, when they define one.
    """
    spec = dict(spec)
    kind = spec.pop("check", None)
    if not isinstance(kind, str):
        raise QualityCheckError(f"check spec needs a 'check' name; known: {QUALITY_CHECKS.names()}")
    cls = QUALITY_CHECKS.get(kind)
    from_spec = getattr(cls, "from_spec", None)
    if from_spec is not None:
        return from_spec(spec)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(spec) - names)
    if unknown:
        raise QualityCheckError(f"{kind}: unknown field(s) {unknown}; fields: {sorted(names)}")
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})
    except TypeError as exc:
        raise QualityCheckError(f"{kind}: {exc}") from exc
