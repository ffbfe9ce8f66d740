"""Which rows a drift analysis reads: all of the model's (the feature windows: exact and real-time), or one
version and / or one segment filter (`filter=region=eu`), which the feature windows do not key by — those are
binned from raw rows against the same baseline bins (`source: raw_rows` in the report)."""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import numpy as np

from engine.algorithms.drift.stored import StoredWindow
from engine.domain import FeatureBaseline, ModelSpec
from engine.errors import NotFoundError
from engine.services.analyses.window_state import window_level
from engine.store import models_repo
from engine.store.scoped_features import scoped_feature_state
from engine.store.unit import Snapshot
from engine.store.window_reads import GroupBy, WindowRead, read_windows
from engine.windows.merge import Merged
from engine.windows.spec import FEATURES, LEVELS, LevelName


@dataclass(frozen=True, slots=True)
class Scope:
    version: str | None = None
    version_id: int | None = None
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def restricted(self) -> bool:
        return self.version_id is not None or bool(self.filters)

    @property
    def source(self) -> str:
        return "raw_rows" if self.restricted else "windows"


async def resolve_scope(
    conn: asyncpg.Connection, info: ModelSpec, version: str | None, filters: dict[str, str] | None
) -> Scope:
    version_id = None
    if version is not None:
        versions = {v.version: v.id for v in await models_repo.list_versions(conn, info.id)}
        if version not in versions:
            raise NotFoundError(f"model {info.name!r} has no version {version!r}")
        version_id = versions[version]
    return Scope(version, version_id, dict(filters or {}))


def _f(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _window(b: FeatureBaseline, counts: object, missing: int, oor: int, vsum: float | None, vsumsq: float | None,
            vmin: float | None, vmax: float | None, sums: object | None) -> StoredWindow:
    """One feature's state; `sums` are its per-bin sums (numeric features, when every merged row had them)."""
    num = b.kind == "numeric"
    return StoredWindow(
        np.asarray(counts, dtype=np.int64), int(missing), int(oor),
        np.asarray(b.edges, dtype=np.float64) if num else None, None if num else b.categories,
        float(vsum or 0.0) if num else None, float(vsumsq or 0.0) if num else None,
        _f(vmin) if num else None, _f(vmax) if num else None,
        np.asarray(sums, dtype=np.float64) if num and sums is not None else None,
    )


def _sum_states(m: Merged, bins: list[FeatureBaseline], cuts: tuple[datetime, ...]) -> list[dict[str, StoredWindow]]:
    """Per cut `c`, each feature's state summed over the buckets of `m` from `c` on (`m` is ordered by bucket):
    counts and sums added in bucket order, sequentially (`np.cumsum`), so every value equals adding the
    buckets' states one by one with `StoredWindow.__add__`."""
    c = m.columns
    counts_col, sums_col, sums_present = c["counts"], c["bin_sums"], m.present["bin_sums"]
    rows: dict[str, list[int]] = {}
    for i, feature in enumerate(m.groups):
        if counts_col[i] is not None:  # a matrix row, or an array / None when bin counts differ by feature
            rows.setdefault(feature, []).append(i)
    out: list[dict[str, StoredWindow]] = [{} for _ in cuts]
    by_name = {b.feature: b for b in bins}
    for feature, idx_list in rows.items():
        b = by_name[feature]
        num = b.kind == "numeric"
        idx = np.asarray(idx_list)
        counts = (counts_col[idx] if isinstance(counts_col, np.ndarray)
                  else np.stack([counts_col[i] for i in idx_list])).astype(np.int64, copy=False)
        has_sums = sums_present[idx]
        starts = [m.buckets[i] for i in idx_list]
        for k, cut in enumerate(cuts):
            first = bisect_left(starts, cut)
            if first == len(idx_list):
                continue
            sel = idx[first:]
            lo = hi = None
            total = total_sq = None
            if num:
                mins, maxs = c["value_min"][sel], c["value_max"][sel]
                mins, maxs = mins[np.isfinite(mins)], maxs[np.isfinite(maxs)]
                lo = float(mins.min()) if mins.size else None
                hi = float(maxs.max()) if maxs.size else None
                total = float(np.cumsum(c["value_sum"][sel])[-1])
                total_sq = float(np.cumsum(c["value_sumsq"][sel])[-1])
            sums = None
            if num and has_sums[first:].all():  # as `__add__`: per-bin sums only when every bucket has them
                part = (sums_col[sel] if isinstance(sums_col, np.ndarray)
                        else np.stack([sums_col[i] for i in idx_list[first:]]))
                sums = np.cumsum(part.astype(np.float64, copy=False), axis=0)[-1]
            out[k][feature] = StoredWindow(
                counts[first:].sum(axis=0), int(c["missing"][sel].sum()), int(c["out_of_range"][sel].sum()),
                np.asarray(b.edges, dtype=np.float64) if num else None, None if num else b.categories,
                total, total_sq, lo, hi, sums,
            )
    return out


def _read(model_id: int, bins: list[FeatureBaseline], level: LevelName, start: datetime, end: datetime) -> WindowRead:
    return WindowRead(FEATURES, level, model_id, start, end, GroupBy("feature"), baseline_ids=tuple(b.id for b in bins))


async def read_feature_state(
    snap: Snapshot, model_id: int, bins: list[FeatureBaseline], start: datetime, end: datetime
) -> dict[str, StoredWindow]:
    """Each feature's window state over [start, end), merged over the buckets of the finest aligned level
    (exact: refreshed buckets plus raw rows of pending ranges)."""
    level = window_level(start, end)
    [m] = await read_windows(snap, [_read(model_id, bins, level, start, end)])
    return _sum_states(m, bins, (LEVELS[level].floor(start),))[0] if len(m) else {}


def _one_read_level(lo: datetime, start: datetime, end: datetime) -> LevelName | None:
    """The level one read of [lo, end) answers both [start, end) and [lo, end) exactly from, as two separate
    reads would (same level, `start` on a bucket edge); None if there is none."""
    level = window_level(start, end)
    if window_level(lo, end) != level or LEVELS[level].floor(start) != start:
        return None
    return level


async def scoped_window_and_span(
    snap: Snapshot, model_id: int, bins: list[FeatureBaseline], start: datetime, end: datetime, lo: datetime,
    scope: Scope,
) -> tuple[dict[str, StoredWindow], dict[str, StoredWindow]]:
    """The feature state over [start, end) and over the longer [lo, end) (lo <= start; the sustained rule's
    trailing span): one read of [lo, end) summed from two cuts when that is exactly what two reads give."""
    level = None if scope.restricted else _one_read_level(lo, start, end)
    if level is None:
        return (await scoped_feature_windows(snap, model_id, bins, start, end, scope),
                await scoped_feature_windows(snap, model_id, bins, lo, end, scope))
    [m] = await read_windows(snap, [_read(model_id, bins, level, lo, end)])
    if not len(m):
        return {}, {}
    window, span = _sum_states(m, bins, (start, LEVELS[level].floor(lo)))  # a bucket's label is its start
    return window, span


async def scoped_feature_windows(
    snap: Snapshot, model_id: int, bins: list[FeatureBaseline], start: datetime, end: datetime, scope: Scope
) -> dict[str, StoredWindow]:
    """The feature windows for the whole model; raw rows binned in SQL for a version / segment scope."""
    if not scope.restricted:
        return await read_feature_state(snap, model_id, bins, start, end)
    rows = await scoped_feature_state(snap.conn, model_id, bins, start, end, scope.version_id, scope.filters)
    by_name = {b.feature: b for b in bins}
    return {r["feature"]: _window(by_name[r["feature"]], r["counts"], r["missing"], r["out_of_range"], r["value_sum"],
                                  r["value_sumsq"], r["value_min"], r["value_max"], r["bin_sums"])
            for r in rows if r["counts"] is not None}
