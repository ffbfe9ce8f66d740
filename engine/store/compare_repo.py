"""Raw-row aggregates of a comparison that the prediction windows cannot give, per group: the squared errors'
sample variance (it needs Σe⁴) for the MSE / RMSE Welch test, and the latency's sample variance for its Welch
test. One grouped scan of the window's rows, bind parameters only (`analyses.comparison_moments`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from engine.store.sqlfiles import query


@dataclass(frozen=True, slots=True)
class GroupMoments:
    """One group's moments: e² = (prediction − label)² over its labelled regression rows, latency over its rows."""

    n: int
    e2_sum: float
    e2_var: float | None  # sample variance (ddof = 1) of e²; None below two rows
    latency_n: int = 0
    latency_mean: float | None = None
    latency_var: float | None = None  # ddof = 1


EMPTY = GroupMoments(0, 0.0, None)


def _float(v: object) -> float | None:
    """float of a float8 or numeric (Decimal) value; a numeric beyond float8 becomes ±inf."""
    return float(v) if v is not None else None  # type: ignore[arg-type]


async def comparison_moments(
    conn: asyncpg.Connection, model_id: int, start: datetime, end: datetime, segment_key: str | None,
    keys: tuple[str, str],
) -> dict[str, GroupMoments]:
    """Per group key (version id as text when `segment_key` is None, else that segment's value) over [start, end)."""
    args = (model_id, start, end, segment_key, list(keys))
    try:
        async with conn.transaction():  # a savepoint: an overflow must not abort the caller's transaction
            rows = await conn.fetch(query("analyses.comparison_moments"), *args)
    except asyncpg.NumericValueOutOfRangeError:
        rows = await conn.fetch(query("analyses.comparison_moments_numeric"), *args)
    return {r["grp"]: GroupMoments(int(r["n"]), _float(r["e2_sum"]) or 0.0, _float(r["e2_var"]), int(r["latency_n"]),
                                   _float(r["latency_mean"]), _float(r["latency_var"])) for r in rows}
