"""Which rows a drift analysis reads: all of the model's (the feature windows: exact and real-time), or one
version and / or one segment filter (`filter=region=eu`), which the feature windows do not key by — those are
binned from raw rows against the same baseline bins (`source: raw_rows` in the report)."""

from __future__ import annotations

import math
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
from engine.windows.spec import FEATURES


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


async def read_feature_state(
    snap: Snapshot, model_id: int, bins: list[FeatureBaseline], start: datetime, end: datetime
) -> dict[str, StoredWindow]:
    """Each feature's window state over [start, end), merged over the buckets of the finest aligned level
    (exact: refreshed buckets plus raw rows of pending ranges)."""
    read = WindowRead(FEATURES, window_level(start, end), model_id, start, end, GroupBy("feature"),
                      baseline_ids=tuple(b.id for b in bins))
    [m] = await read_windows(snap, [read])
    out: dict[str, StoredWindow] = {}
    c = m.columns
    for i, feature in enumerate(m.groups):
        counts = c["counts"][i]  # a matrix row, or an array / None when bin counts differ by feature
        if counts is None:
            continue
        b = next(x for x in bins if x.feature == feature)
        sums = c["bin_sums"][i] if m.present["bin_sums"][i] else None
        w = _window(b, counts, c["missing"][i], c["out_of_range"][i], c["value_sum"][i], c["value_sumsq"][i],
                    c["value_min"][i], c["value_max"][i], sums)
        out[feature] = out[feature] + w if feature in out else w
    return out


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
