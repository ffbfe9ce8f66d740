"""Row checks: duplicates by key columns, and freshness / lag of event times against a given "now"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

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


@QUALITY_CHECKS.register("duplicates")
@dataclass(frozen=True, slots=True)
class DuplicateCheck(QualityCheck):
    """Rows whose key (the `keys` columns; all columns when empty) already occurred in an earlier row.

    The failing rows are the repeats, not their first occurrence, so `n_failed` is the number of rows
    a de-duplication would drop. Nulls in key columns compare equal to each other.
    """

    keys: tuple[str, ...] = ()
    name = "duplicates"

    def evaluate(self, frame: pl.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS) -> CheckResult:
        require_columns(self.name, frame, self.keys)
        keys = list(self.keys) or frame.columns
        if not keys:
            raise QualityCheckError("duplicates: the frame has no columns")
        key = pl.struct(keys)
        groups = 0
        if frame.height:
            groups = int(frame.select((key.is_duplicated() & key.is_first_distinct()).sum()).item())
        return failures(
            self.name,
            ", ".join(keys),
            frame,
            ~key.is_first_distinct(),
            reason=f"repeats the key ({', '.join(keys)}) of an earlier row",
            value_columns=keys,
            max_rows=max_rows,
            details={"keys": keys, "duplicated_keys": groups},
        )


def _as_utc_or_naive(check: str, frame: pl.DataFrame, column: str, now: dt.datetime) -> pl.Expr:
    dtype = frame.schema[column]
    if dtype == pl.Date:
        if now.tzinfo is not None:
            raise QualityCheckError(f"{check}: {column!r} is a Date column; pass a naive 'now'")
        return pl.col(column).cast(pl.Datetime("us"))
    if not isinstance(dtype, pl.Datetime):
        raise QualityCheckError(f"{check}: column {column!r} has type {dtype}, not a datetime")
    if (dtype.time_zone is None) != (now.tzinfo is None):
        raise QualityCheckError(
            f"{check}: {column!r} is {'naive' if dtype.time_zone is None else 'time-zone aware'} but 'now' "
            f"is {'naive' if now.tzinfo is None else 'aware'}; use both naive (UTC) or both aware"
        )
    col = pl.col(column).cast(pl.Datetime("us", dtype.time_zone))
    return col if dtype.time_zone is None else col.dt.convert_time_zone("UTC")


@QUALITY_CHECKS.register("freshness")
@dataclass(frozen=True, slots=True)
class FreshnessCheck(QualityCheck):
    """Lag of event times behind `now` (passed in; the clock is never read).

    Per row, lag = now − event time (or arrival − event time when `arrival_column` is given, i.e.
    ingestion latency); rows lagging more than `max_lag` fail. Details give the dataset's freshness
    (`lag_of_latest_s`: now − newest event; `stale` when it exceeds `max_lag` or there are no events),
    lag percentiles in seconds and the count of events stamped in the future.
    """

    column: str
    now: dt.datetime
    max_lag: dt.timedelta
    arrival_column: str | None = None
    name = "freshness"

    def __post_init__(self) -> None:
        if not isinstance(self.now, dt.datetime) or not isinstance(self.max_lag, dt.timedelta):
            raise QualityCheckError("freshness: now must be a datetime and max_lag a timedelta")
        if self.max_lag < dt.timedelta(0):
            raise QualityCheckError("freshness: max_lag must be >= 0")

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FreshnessCheck:
        """`now` as an ISO-8601 string, `max_lag` in seconds (the form `to_spec` writes)."""
        unknown = sorted(set(spec) - {"column", "now", "max_lag", "arrival_column"})
        if unknown:
            raise QualityCheckError(f"freshness: unknown field(s) {unknown}")
        try:
            now = spec["now"]
            max_lag = spec["max_lag"]
            return cls(
                column=spec["column"],
                now=dt.datetime.fromisoformat(now) if isinstance(now, str) else now,
                max_lag=dt.timedelta(seconds=max_lag) if isinstance(max_lag, (int, float)) else max_lag,
                arrival_column=spec.get("arrival_column"),
            )
        except KeyError as exc:
            raise QualityCheckError(f"freshness: missing field {exc}") from None
        except (TypeError, ValueError) as exc:
            raise QualityCheckError(f"freshness: {exc}") from exc

    def evaluate(self, frame: pl.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS) -> CheckResult:
        columns = [self.column] + ([self.arrival_column] if self.arrival_column else [])
        require_columns(self.name, frame, columns)
        now = self.now.astimezone(dt.UTC) if self.now.tzinfo is not None else self.now
        event = _as_utc_or_naive(self.name, frame, self.column, self.now)
        later = pl.lit(now, dtype=pl.Datetime("us", "UTC" if now.tzinfo else None))
        if self.arrival_column is not None:
            later = _as_utc_or_naive(self.name, frame, self.arrival_column, self.now)
        lag_us = (later - event).dt.total_microseconds()
        max_lag_us = self.max_lag // dt.timedelta(microseconds=1)
        try:
            stats = frame.select(
                lag_us.median().alias("median"),
                lag_us.quantile(0.95, interpolation="linear").alias("p95"),
                lag_us.max().alias("max"),
                event.max().alias("latest"),
                (event > pl.lit(now, dtype=pl.Datetime("us", "UTC" if now.tzinfo else None)))
                .sum()
                .alias("future"),
            ).row(0, named=True)
        except pl.exceptions.PolarsError as exc:
            raise QualityCheckError(f"freshness: cannot compute lags on {self.column!r}: {exc}") from exc
        latest = stats["latest"]
        lag_of_latest = None if latest is None else (now - latest).total_seconds()
        return failures(
            self.name,
            self.column,
            frame,
            lag_us > max_lag_us,
            reason=f"{self.column} lags more than {self.max_lag} behind " + (self.arrival_column or "now"),
            value_columns=columns,
            max_rows=max_rows,
            details={
                "now": self.now,
                "max_lag_s": self.max_lag.total_seconds(),
                "latest_event": latest,
                "lag_of_latest_s": lag_of_latest,
                "stale": lag_of_latest is None or lag_of_latest > self.max_lag.total_seconds(),
                "median_lag_s": None if stats["median"] is None else stats["median"] / 1e6,
                "p95_lag_s": None if stats["p95"] is None else stats["p95"] / 1e6,
                "max_lag_observed_s": None if stats["max"] is None else stats["max"] / 1e6,
                "future_events": int(stats["future"] or 0),
            },
        )
