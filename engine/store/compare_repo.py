"""Raw-row aggregates of a comparison that the prediction windows cannot give: the squared errors' Σe⁴ (and
their sample variance) per group, for the MSE / RMSE Welch test. One grouped scan of the window's rows, bind
parameters only (`analyses.squared_error_moments`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from engine.store.sqlfiles import query


@dataclass(frozen=True, slots=True)
class SquaredErrors:
    """Moments of e² = (prediction − label)² over one group's labelled rows."""

    n: int
    e2_sum: float
    e4_sum: float
    e2_var: float | None  # sample variance (ddof = 1) of e²; None below two rows


async def squared_error_moments(
    conn: asyncpg.Connection, model_id: int, start: datetime, end: datetime, segment_key: str | None,
    keys: tuple[str, str],
) -> dict[str, SquaredErrors]:
    """Per group key (version id as text when `segment_key` is None, else that segment's value) over [start, end)."""
    rows = await conn.fetch(query("analyses.squared_error_moments"), model_id, start, end, segment_key, list(keys))
    return {r["grp"]: SquaredErrors(int(r["n"]), float(r["e2_sum"] or 0.0), float(r["e4_sum"] or 0.0),
                                    float(r["e2_var"]) if r["e2_var"] is not None else None) for r in rows}
