"""Feature state of the rows of one version and / or one segment filter over [start, end), binned against
given baseline bins, computed from raw rows (the feature windows are keyed by model, baseline and feature
only, so a version or a segment cannot be read from them). The same SQL as the windows' raw source
(`feature_bins.feature_source_sql`), narrowed by bind parameters and merged over the window."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from engine.domain import FeatureBaseline
from engine.store.feature_bins import Params, feature_source_sql


async def scoped_feature_state(
    conn: asyncpg.Connection, model_id: int, bins: list[FeatureBaseline], start: datetime, end: datetime,
    version_id: int | None, segments: dict[str, str] | None,
) -> list[asyncpg.Record]:
    """One row per feature with rows in the scope: feature, missing, out_of_range, counts, value_sum,
    value_sumsq, value_min, value_max, bin_sums (merged over the window; NULL bin sums for categorical features)."""
    if not bins:
        return []
    p = Params()
    model = p(model_id, "integer")
    lo, hi = p(start, "timestamptz"), p(end, "timestamptz")
    narrow = ""
    if version_id is not None:
        narrow += f" AND p.version_id = {p(version_id, 'integer')}"
    if segments:
        narrow += f" AND p.segments @> {p(json.dumps(segments, sort_keys=True), 'jsonb')}"
    src = feature_source_sql(bins, p, model, lo, hi, narrow)
    sql = ("SELECT feature, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,"
           " dl_sum_counts(counts) AS counts, sum(value_sum) AS value_sum, sum(value_sumsq) AS value_sumsq,"
           " min(value_min) AS value_min, max(value_max) AS value_max, dl_sum_sums(bin_sums) AS bin_sums\n"
           f"FROM ({src}) AS w\nGROUP BY feature")
    return list(await conn.fetch(sql, *p.values))
