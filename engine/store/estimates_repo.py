"""Cells of a window for label-free estimation, aggregated in SQL over the raw rows: (score bin, predicted
class, label) counts for binary models, (predicted class, class, bin of that class's probability) counts
and (predicted class, label) counts for multiclass ones. The prediction windows keep score histograms of
labelled rows only, so the unlabelled rows' histograms are built here (one grouped scan of the window)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from engine.store.sqlfiles import query


@dataclass(frozen=True, slots=True)
class CellFilter:
    model_id: int
    start: datetime
    end: datetime
    version_id: int | None = None
    segment: dict[str, str] | None = None
    n_bins: int = 100

    def args(self) -> tuple[object, ...]:
        seg = json.dumps(self.segment, sort_keys=True) if self.segment else None
        return (self.model_id, self.start, self.end, self.version_id, self.n_bins, seg)


async def score_cells(conn: asyncpg.Connection, f: CellFilter) -> list[tuple[int, str, str | None, int]]:
    """(bin, predicted class, label or None, rows) of a binary model's scored rows."""
    rows = await conn.fetch(query("analyses.score_cells"), *f.args())
    return [(r["bin"], r["predicted_class"], r["label_class"], r["n"]) for r in rows]


async def probability_cells(conn: asyncpg.Connection, f: CellFilter, n_classes: int) -> list[tuple[str, int, int, int]]:
    """(predicted class, class position 1…K, bin of its probability, rows) of a multiclass model."""
    rows = await conn.fetch(query("analyses.probability_cells"), *f.args(), n_classes)
    return [(r["predicted_class"], r["j"], r["bin"], r["n"]) for r in rows]


async def class_cells(conn: asyncpg.Connection, f: CellFilter, n_classes: int) -> list[tuple[str, str | None, int]]:
    """(predicted class, label or None, rows) of a multiclass model's rows with K probabilities."""
    rows = await conn.fetch(query("analyses.class_cells"), *f.args(), n_classes)
    return [(r["predicted_class"], r["label_class"], r["n"]) for r in rows]


async def batch_rows(conn: asyncpg.Connection, model_id: int, prediction_ids: list[str], start: datetime,
                     end: datetime, version_id: int | None) -> list[asyncpg.Record]:
    """The stored rows of a tracked batch (its prediction ids in [start, end))."""
    return await conn.fetch(query("analyses.batch_rows"), model_id, prediction_ids, start, end, version_id)
