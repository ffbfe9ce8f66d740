"""Raw feature rows for multivariate drift: a baseline's stored reference sample (`baseline_samples`,
migration 0011) and a reproducible, uniform, capped sample of a window's rows (one version and / or a
segment filter optional). Rows come back in the positional layout of `predictions`: a numeric matrix
(NaN = missing) and rows of categorical values (None = missing)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray

from engine.store.sqlfiles import query


@dataclass(frozen=True, slots=True)
class FeatureRows:
    num: NDArray[np.float64]  # (rows, numeric features by position)
    cat: list[list[str | None]]  # per row, categorical values by position
    n_matched: int  # rows the window held before the cap (the stored sample's size for a baseline)


def _rows(records: list[asyncpg.Record], n_numeric: int, n_categorical: int, n_matched: int | None) -> FeatureRows:
    num = np.full((len(records), n_numeric), np.nan)
    cat: list[list[str | None]] = []
    for i, r in enumerate(records):
        for j, v in enumerate(list(r["num_features"] or [])[:n_numeric]):
            if v is not None:
                num[i, j] = v
        cf = list(r["cat_features"] or [])[:n_categorical]
        cat.append(cf + [None] * (n_categorical - len(cf)))
    return FeatureRows(num, cat, len(records) if n_matched is None else n_matched)


async def insert_sample(
    conn: asyncpg.Connection, baseline_id: int, num: NDArray[np.float64], cat: list[list[str | None]]
) -> None:
    rows = [
        (baseline_id, i, [None if not np.isfinite(v) else float(v) for v in num[i]] if num.shape[1] else None,
         cat[i] if cat and cat[i] else None)
        for i in range(num.shape[0])
    ]
    await conn.copy_records_to_table("baseline_samples", records=rows,
                                     columns=["baseline_id", "row_index", "num_features", "cat_features"])


async def baseline_sample(conn: asyncpg.Connection, baseline_id: int, n_numeric: int, n_categorical: int) -> FeatureRows:
    return _rows(await conn.fetch(query("samples.baseline_rows"), baseline_id), n_numeric, n_categorical, None)


async def has_sample(conn: asyncpg.Connection, baseline_id: int) -> bool:
    return bool(await conn.fetchval(query("samples.has_sample"), baseline_id))


async def window_sample(
    conn: asyncpg.Connection, model_id: int, start: datetime, end: datetime, version_id: int | None,
    segments: dict[str, str] | None, seed: int, cap: int, n_numeric: int, n_categorical: int,
) -> FeatureRows:
    seg: Any = json.dumps(segments, sort_keys=True) if segments else None
    records = await conn.fetch(query("samples.window_rows"), model_id, start, end, version_id, seg, str(seed), cap)
    n = int(records[0]["n_matched"]) if records else 0
    return _rows(records, n_numeric, n_categorical, n)
