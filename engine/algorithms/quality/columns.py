"""Column checks: completeness (null rates), range violations, type mismatches, unseen categories."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from engine.algorithms.quality.base import (
    DEFAULT_MAX_ROWS,
    QUALITY_CHECKS,
    CheckResult,
    QualityCheck,
    QualityCheckError,
    failures,
    require_columns,
)


@QUALITY_CHECKS.register("completeness")
@dataclass(frozen=True, slots=True)
class Completeness(QualityCheck):
    """Null rate of one column; failing rows are the nulls (NaN in a float column counts as null
    only with `nan_is_null=True`). Passes while the null rate is at most `max_null_rate`."""

    column: str
    max_null_rate: float = 0.0
    nan_is_null: bool = False
    name = "completeness"

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_null_rate <= 1.0:
            raise QualityCheckError("completeness: max_null_rate must be in [0, 1]")

    def evaluate(self, frame: pl.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS) -> CheckResult:
        require_columns(self.name, frame, [self.column])
        missing = pl.col(self.column).is_null()
        if self.nan_is_null and frame.schema[self.column].is_float():
            missing = missing | pl.col(self.column).is_nan()
        result = failures(
            self.name,
            self.column,
            frame,
            missing,
            reason=f"{self.column} is null" + (" or NaN" if self.nan_is_null else ""),
            value_columns=(),
            max_rows=max_rows,
            tolerated_rate=self.max_null_rate,
        )
        return result


def null_rates(frame: pl.DataFrame) -> dict[str, float]:
    """Null rate of every column (0.0 for an empty frame)."""
    if frame.height == 0:
        return dict.fromkeys(frame.columns, 0.0)
    counts = frame.null_count().row(0)
    return {c: n / frame.height for c, n in zip(frame.columns, counts, strict=True)}


Bound = float | int | dt.date | dt.datetime


@QUALITY_CHECKS.register("range")
@dataclass(frozen=True, slots=True)
class RangeCheck(QualityCheck):
    """Values outside the declared [min, max] (bounds optional, inclusive by default). NaN fails:
    it is not within any bounds. Works on numeric, date and datetime columns."""

    column: str
    min: Bound | None = None
    max: Bound | None = None
    inclusive: bool = True
    name = "range"

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise QualityCheckError("range: give at least one of min, max")
        if self.min is not None and self.max is not None and self.min > self.max:  # type: ignore[operator]
            raise QualityCheckError(f"range: min {self.min!r} > max {self.max!r}")

    def evaluate(self, frame: pl.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS) -> CheckResult:
        require_columns(self.name, frame, [self.column])
        dtype = frame.schema[self.column]
        if not (dtype.is_numeric() or dtype.is_temporal()):
            raise QualityCheckError(
                f"range: column {self.column!r} has type {dtype}, not numeric or temporal"
            )
        col = pl.col(self.column)
        outside = pl.lit(False)
        if self.min is not None:
            outside = outside | (col < self.min if self.inclusive else col <= self.min)
        if self.max is not None:
            outside = outside | (col > self.max if self.inclusive else col >= self.max)
        if dtype.is_float():
            outside = outside | col.is_nan()
        brackets = "[]" if self.inclusive else "()"
        bounds = f"{brackets[0]}{self.min}, {self.max}{brackets[1]}"
        return failures(
            self.name,
            self.column,
            frame,
            outside,
            reason=f"{self.column} outside {bounds}",
            value_columns=(self.column,),
            max_rows=max_rows,
            details={"min": self.min, "max": self.max, "inclusive": self.inclusive},
        )


DeclaredType = Literal["numeric", "integer", "boolean", "string", "datetime"]
_BOOLEAN_TEXT = ("true", "false", "t", "f", "yes", "no", "y", "n", "0", "1")


def _matches_declared(col: pl.Expr, dtype: pl.DataType, declared: DeclaredType) -> pl.Expr:
    """Per-row: does the value conform to the declared type? (null for nulls.)"""
    if declared == "string":
        return col.is_not_null() if dtype == pl.String else col.is_null()
    if dtype == pl.String:
        text = col.str.strip_chars()
        if declared == "numeric":
            return text.cast(pl.Float64, strict=False).is_not_null()
        if declared == "integer":
            return text.cast(pl.Int64, strict=False).is_not_null()
        if declared == "boolean":
            return text.str.to_lowercase().is_in(_BOOLEAN_TEXT)
        return text.str.to_datetime(strict=False).is_not_null()
    if declared == "numeric":
        return pl.lit(dtype.is_numeric())
    if declared == "integer":
        if dtype.is_integer():
            return pl.lit(True)
        return (col == col.floor()) if dtype.is_float() else pl.lit(False)
    if declared == "boolean":
        return pl.lit(dtype == pl.Boolean)
    return pl.lit(dtype.is_temporal())


@QUALITY_CHECKS.register("type")
@dataclass(frozen=True, slots=True)
class TypeCheck(QualityCheck):
    """Values that are not of the declared type. A text column is parsed value by value (numbers,
    integers, booleans like "true"/"0", ISO datetimes); a typed column conforms or not as a whole,
    except that a float column declared integer fails on values with a fractional part (NaN included)."""

    column: str
    expected: DeclaredType
    name = "type"

    def __post_init__(self) -> None:
        if self.expected not in ("numeric", "integer", "boolean", "string", "datetime"):
            raise QualityCheckError(
                f"type: expected must be numeric, integer, boolean, string or datetime, got {self.expected!r}"
            )

    def evaluate(self, frame: pl.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS) -> CheckResult:
        require_columns(self.name, frame, [self.column])
        dtype = frame.schema[self.column]
        col = pl.col(self.column)
        conforms = _matches_declared(col, dtype, self.expected)
        return failures(
            self.name,
            self.column,
            frame,
            col.is_not_null() & ~conforms,
            reason=f"{self.column} value is not {self.expected} (column type {dtype})",
            value_columns=(self.column,),
            max_rows=max_rows,
            details={"expected": self.expected, "column_dtype": str(dtype)},
        )


@QUALITY_CHECKS.register("categories")
@dataclass(frozen=True, slots=True)
class CategoryCheck(QualityCheck):
    """Values outside a declared or reference set of categories. Values are compared as text
    (so a Categorical/Enum column and a set of strings compare naturally); details list the unseen
    categories with their counts, most frequent first (at most `max_listed`)."""

    column: str
    allowed: tuple[Any, ...]
    max_listed: int = 20
    name = "categories"

    @classmethod
    def from_reference(cls, column: str, reference: pl.Series | Iterable[Any]) -> CategoryCheck:
        """The categories seen (non-null) in a reference sample."""
        values = reference if isinstance(reference, pl.Series) else pl.Series(list(reference))
        return cls(column=column, allowed=tuple(values.drop_nulls().unique(maintain_order=True).to_list()))

    def evaluate(self, frame: pl.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS) -> CheckResult:
        require_columns(self.name, frame, [self.column])
        known = pl.Series([str(v) for v in self.allowed], dtype=pl.String)
        text = pl.col(self.column).cast(pl.String)
        unseen = text.is_not_null() & ~text.is_in(known.implode())
        try:
            counts = (
                frame.select(text.alias("value"))
                .filter(pl.col("value").is_not_null() & ~pl.col("value").is_in(known.implode()))
                .group_by("value")
                .len()
                .sort(["len", "value"], descending=[True, False])
            )
        except pl.exceptions.PolarsError as exc:
            raise QualityCheckError(f"categories: cannot read {self.column!r} as text: {exc}") from exc
        listed = {str(v): int(n) for v, n in counts.head(self.max_listed).iter_rows()}
        return failures(
            self.name,
            self.column,
            frame,
            unseen,
            reason=f"{self.column} value not among the {len(self.allowed)} known categories",
            value_columns=(self.column,),
            max_rows=max_rows,
            details={"n_unseen_categories": counts.height, "unseen_categories": listed},
        )
