"""Baselines persistence: the `baselines` rows, their per-feature bins in `feature_baselines`, activation
(one active baseline per model; its feature bins become the active ones the feature windows are binned
against, and the trigger on `feature_baselines` records the model's whole history as pending 'features'
invalidations, which the refresher re-buckets in the background), and the raw reference rows of a range."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray

from engine.domain import FeatureBaseline
from engine.errors import ConflictError, NotFoundError
from engine.store.feature_bins import feature_baseline
from engine.store.sqlfiles import query


@dataclass(frozen=True, slots=True)
class NewFeatureBins:
    feature: str
    kind: str
    edges: list[float] | None
    categories: list[str] | None
    lower: float | None
    upper: float | None
    counts: list[int]
    sums: list[float] | None
    missing: int
    out_of_range: int
    minimum: float | None
    maximum: float | None
    sumsq: float | None


@dataclass(frozen=True, slots=True)
class BaselineRow:
    id: int
    name: str
    source: str
    range_start: datetime | None
    range_end: datetime | None
    n_rows: int
    n_bins: int
    chunking: str
    active: bool
    created_at: datetime
    activated_at: datetime | None
    version: str | None
    content: dict[str, Any] | None = None


def _row(r: asyncpg.Record, with_content: bool = False) -> BaselineRow:
    d = dict(r)
    content = json.loads(d.pop("content")) if with_content else None
    return BaselineRow(**d, content=content)


async def insert_baseline(
    conn: asyncpg.Connection,
    model_id: int,
    version_id: int | None,
    name: str,
    source: str,
    range_start: datetime | None,
    range_end: datetime | None,
    n_rows: int,
    n_bins: int,
    chunking: str,
    content: dict[str, Any],
    features: list[NewFeatureBins],
) -> int:
    async with conn.transaction():
        try:
            baseline_id: int = await conn.fetchval(
                query("baselines.insert_baseline"),
                model_id,
                version_id,
                name,
                source,
                range_start,
                range_end,
                n_rows,
                n_bins,
                chunking,
                json.dumps(content),
            )
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(f"a baseline named {name!r} already exists for this model") from exc
        await conn.executemany(
            query("baselines.insert_feature_bins"),
            [
                (
                    model_id,
                    f.feature,
                    f.kind,
                    f.edges,
                    f.categories,
                    f.lower,
                    f.upper,
                    f.counts,
                    baseline_id,
                    f.sums,
                    f.missing,
                    f.out_of_range,
                    f.minimum,
                    f.maximum,
                    f.sumsq,
                )
                for f in features
            ],
        )
    return baseline_id


async def list_baselines(conn: asyncpg.Connection, model_id: int) -> list[BaselineRow]:
    return [_row(r) for r in await conn.fetch(query("baselines.list_baselines"), model_id)]


async def get_baseline(conn: asyncpg.Connection, model_id: int, name: str, *, chunks: bool = True) -> BaselineRow:
    """The baseline with its content; `chunks=False` leaves out the per-chunk counts (`content["chunks"]`,
    most of the document: ~250 kB of JSON for 25 features), which only calibrated thresholds read."""
    r = await conn.fetchrow(query("baselines.get_baseline" if chunks else "baselines.get_baseline_without_chunks"),
                            model_id, name)
    if r is None:
        raise NotFoundError(f"no baseline named {name!r}")
    return _row(r, with_content=True)


async def active_baseline_name(conn: asyncpg.Connection, model_id: int) -> str | None:
    name: str | None = await conn.fetchval(query("baselines.active_baseline_name"), model_id)
    return name


async def feature_bins(conn: asyncpg.Connection, baseline_id: int) -> list[FeatureBaseline]:
    return [feature_baseline(r) for r in await conn.fetch(query("baselines.baseline_feature_bins"), baseline_id)]


async def activate(conn: asyncpg.Connection, model_id: int, baseline_id: int) -> None:
    """Make `baseline_id` the model's one active baseline (deactivate first: the one-active indexes are
    checked row by row)."""
    async with conn.transaction():
        await conn.execute(query("baselines.deactivate_baselines"), model_id)
        await conn.execute(query("baselines.deactivate_feature_bins"), model_id)
        await conn.execute(query("baselines.activate_baseline"), baseline_id)
        await conn.execute(query("baselines.activate_feature_bins"), baseline_id)


async def delete(conn: asyncpg.Connection, baseline_id: int) -> None:
    await conn.execute(query("baselines.delete_baseline"), baseline_id)


@dataclass(frozen=True, slots=True)
class RawRows:
    """Raw prediction rows of a range as columns (features by stored position, 0-based columns)."""

    times: list[datetime]
    num: NDArray[np.float64]  # (rows, numeric features), NaN = missing
    cat: list[list[str | None]]  # rows of categorical values by position
    predicted_class: list[str | None]
    predicted_value: NDArray[np.float64]
    score: NDArray[np.float64]
    probabilities: list[list[float] | None]
    label_class: list[str | None]
    label_value: NDArray[np.float64]


def _floats(values: list[Any]) -> NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


async def reference_rows(
    conn: asyncpg.Connection,
    model_id: int,
    start: datetime,
    end: datetime,
    version_id: int | None,
    n_numeric: int,
    n_categorical: int,
    limit: int,
) -> RawRows:
    rows = await conn.fetch(query("baselines.reference_rows"), model_id, start, end, version_id, limit)
    num = np.full((len(rows), n_numeric), np.nan)
    cat: list[list[str | None]] = []
    for i, r in enumerate(rows):
        nf = r["num_features"] or []
        for j, v in enumerate(nf[:n_numeric]):
            if v is not None:
                num[i, j] = v
        cf = list(r["cat_features"] or [])[:n_categorical]
        cat.append(cf + [None] * (n_categorical - len(cf)))
    return RawRows(
        times=[r["time"] for r in rows],
        num=num,
        cat=cat,
        predicted_class=[r["predicted_class"] for r in rows],
        predicted_value=_floats([r["predicted_value"] for r in rows]),
        score=_floats([r["score"] for r in rows]),
        probabilities=[list(r["probabilities"]) if r["probabilities"] is not None else None for r in rows],
        label_class=[r["label_class"] for r in rows],
        label_value=_floats([r["label_value"] for r in rows]),
    )
