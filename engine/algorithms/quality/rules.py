"""User-declared validation and consistency rules: a small typed rule language over Polars expressions.

Rules are frozen dataclasses, never strings to evaluate: `NotNull("id")`, `InSet("country", ("FR",
"DE"))`, `Matches("email", r"[^@]+@[^@]+")`, `Compare("start", "<=", Col("end"))`, `Compare("age",
">=", 0)`, and `Implies(when=InSet("status", ("shipped",)), then=NotNull("shipped_at"))` for
consistency between columns. Each rule compiles to a Polars expression that is true where a row
passes (`condition()`); `evaluate` reports the rows where it is false. As everywhere in the quality
checks, a comparison involving a null passes (only `NotNull` fails on nulls). Patterns use Polars'
(Rust) regex syntax and must match the whole value unless `full_match=False`.
"""

from __future__ import annotations

import operator
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from engine.algorithms.quality.base import (
    DEFAULT_MAX_ROWS,
    QUALITY_CHECKS,
    CheckResult,
    QualityCheck,
    QualityCheckError,
    check_from_dict,
    failures,
    require_columns,
)


class Rule(QualityCheck):
    """A row-level rule: `condition()` is a Polars expression, true where the row passes."""

    @abstractmethod
    def condition(self) -> pl.Expr: ...

    @abstractmethod
    def columns(self) -> tuple[str, ...]: ...

    @abstractmethod
    def describe(self) -> str: ...

    def evaluate(self, frame: pl.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS) -> CheckResult:
        columns = self.columns()
        require_columns(self.name, frame, columns)
        return failures(
            self.name,
            self.describe(),
            frame,
            ~self.condition(),
            reason=f"violates {self.describe()}",
            value_columns=columns,
            max_rows=max_rows,
            details={"rule": self.to_spec()},
        )


@dataclass(frozen=True, slots=True)
class Col:
    """A reference to a column on the right-hand side of a comparison."""

    name: str

    def to_spec(self) -> dict[str, str]:
        return {"column": self.name}


@QUALITY_CHECKS.register("not_null")
@dataclass(frozen=True, slots=True)
class NotNull(Rule):
    column: str
    name = "not_null"

    def condition(self) -> pl.Expr:
        return pl.col(self.column).is_not_null()

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def describe(self) -> str:
        return f"{self.column} is not null"


@QUALITY_CHECKS.register("in_set")
@dataclass(frozen=True, slots=True)
class InSet(Rule):
    column: str
    values: tuple[Any, ...]
    name = "in_set"

    def condition(self) -> pl.Expr:
        return pl.col(self.column).is_in(pl.Series(list(self.values)).implode())

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def describe(self) -> str:
        return f"{self.column} in {list(self.values)}"


@QUALITY_CHECKS.register("matches")
@dataclass(frozen=True, slots=True)
class Matches(Rule):
    column: str
    pattern: str
    full_match: bool = True
    name = "matches"

    def condition(self) -> pl.Expr:
        pattern = f"^(?:{self.pattern})$" if self.full_match else self.pattern
        return pl.col(self.column).cast(pl.String).str.contains(pattern)

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def describe(self) -> str:
        return f"{self.column} matches /{self.pattern}/"


Operator = Literal["<", "<=", "==", "!=", ">=", ">"]
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}


@QUALITY_CHECKS.register("compare")
@dataclass(frozen=True, slots=True)
class Compare(Rule):
    """`left op right`, where right is a literal or `Col(name)` (a cross-column rule such as a <= b)."""

    left: str
    op: Operator
    right: Col | float | int | str | bool
    name = "compare"

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise QualityCheckError(f"compare: op must be one of {list(_OPERATORS)}, got {self.op!r}")

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Compare:
        right = spec.get("right")
        if isinstance(right, dict):
            if set(right) != {"column"}:
                raise QualityCheckError("compare: a column on the right is written {'column': name}")
            right = Col(right["column"])
        try:
            return cls(left=spec["left"], op=spec["op"], right=right)  # type: ignore[arg-type]
        except KeyError as exc:
            raise QualityCheckError(f"compare: missing field {exc}") from None

    def condition(self) -> pl.Expr:
        right = pl.col(self.right.name) if isinstance(self.right, Col) else pl.lit(self.right)
        return _OPERATORS[self.op](pl.col(self.left), right)

    def columns(self) -> tuple[str, ...]:
        return (self.left, self.right.name) if isinstance(self.right, Col) else (self.left,)

    def describe(self) -> str:
        right = self.right.name if isinstance(self.right, Col) else repr(self.right)
        return f"{self.left} {self.op} {right}"


@QUALITY_CHECKS.register("implies")
@dataclass(frozen=True, slots=True)
class Implies(Rule):
    """Consistency: wherever `when` holds, `then` must hold too (rows where `when` fails pass)."""

    when: Rule
    then: Rule
    name = "implies"

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Implies:
        parts = {}
        for key in ("when", "then"):
            rule = check_from_dict(spec.get(key) or {})
            if not isinstance(rule, Rule):
                raise QualityCheckError(f"implies: {key!r} must be a row rule, got {rule.name!r}")
            parts[key] = rule
        return cls(when=parts["when"], then=parts["then"])

    def condition(self) -> pl.Expr:
        # A null `when` means "not applicable"; a null `then` under a true `when` passes, per policy.
        return ~self.when.condition().fill_null(False) | self.then.condition().fill_null(True)

    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.when.columns() + self.then.columns()))

    def describe(self) -> str:
        return f"if {self.when.describe()} then {self.then.describe()}"
