"""Magnitude bounds for the numbers the windows square and sum in float8.

The rollups sum squares in PostgreSQL float8 (squared errors and squared labels/predictions of regression
models, squared numeric feature values, squared custom metric values, Brier terms of scores and
probabilities) and plain sums (latency). PostgreSQL raises `value out of range: overflow` when a square
exceeds ~1.8e308 and `underflow` when a non-zero square rounds to 0 (|x| < ~1.5e-154), and a refresh that
raises is retried forever: one such row would stop every window of its model. So ingest refuses numbers
whose magnitude is neither 0 nor within [MIN_MAGNITUDE, MAX_MAGNITUDE]: their squares (1e-200 … 1e200)
and sums of squares of up to 1e100 rows stay representable, and a difference of two accepted numbers is
0 or at least ~1e-116 in magnitude (its square stays normal).

Scores and probabilities are bounded to [0, 1] already; a non-zero value below MIN_MAGNITUDE (a float64
softmax gives such values) is stored as 0.0 instead of refusing the row (`flush_tiny`).

>>> import polars as pl
>>> out_of_bounds(pl.Series([0.0, 1e100, -1e-100, 1e101, -1e-101, None, float("nan"), float("inf")])).to_list()
[False, False, False, True, True, False, False, False]
>>> magnitude_problem(1e-170), magnitude_problem(-1e100), magnitude_problem(0)
('magnitude must be 0 or within [1e-100, 1e100]: squares are summed in float8', None, None)
>>> pl.DataFrame({"s": [1e-101, 1e-100, 0.5, None]}).select(flush_tiny(pl.col("s")).alias("s"))["s"].to_list()
[0.0, 1e-100, 0.5, None]
"""

from __future__ import annotations

import math

import polars as pl

MIN_MAGNITUDE = 1e-100
MAX_MAGNITUDE = 1e100
MAGNITUDE_REASON = "magnitude must be 0 or within [1e-100, 1e100]: squares are summed in float8"


def out_of_bounds(s: pl.Series) -> pl.Series:
    """True where a finite value's magnitude is neither 0 nor within [MIN_MAGNITUDE, MAX_MAGNITUDE]; NaN,
    ±inf and null are False (they have rules of their own)."""
    a = s.cast(pl.Float64).abs()
    bad = (a > MAX_MAGNITUDE) | ((a < MIN_MAGNITUDE) & (a != 0))
    return (bad & a.is_finite()).fill_null(False)


def magnitude_problem(value: float) -> str | None:
    """The refusal reason for one finite number, or None when its magnitude is within bounds."""
    a = abs(float(value))
    if math.isfinite(a) and (a > MAX_MAGNITUDE or 0 < a < MIN_MAGNITUDE):
        return MAGNITUDE_REASON
    return None


def flush_tiny(e: pl.Expr) -> pl.Expr:
    """Values in (0, MIN_MAGNITUDE) → 0.0 (for scores and probabilities, which lie in [0, 1]); of a column
    (alias the result: it is named after the literal) or of a list's `pl.element()`."""
    return pl.when((e > 0) & (e < MIN_MAGNITUDE)).then(0.0).otherwise(e)
