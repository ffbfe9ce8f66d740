"""Feature histograms of raw rows against the active baseline bins of a model.

One statement over the model's rows in a time range computes, per 1-minute bucket and per feature with an
active baseline, the counts per bin, missing and out-of-range counts, and (numeric features) the sum, sum
of squares, minimum and maximum of the present values and their sum per bin. The bin index of a value is
`width_bucket(x, edges)` (numeric; numpy `searchsorted(edges, x, side='right')`) or its position in the
baseline's categories (categorical).

- `r` (MATERIALIZED): one row per raw row with one column per feature: the present value (NULL when
  missing: NULL or NaN) and its bin (numeric), or the category and its index (categorical). Each value is
  taken out of the row's array once; written inline into the aggregates, as before, every aggregate
  argument and FILTER re-evaluated the subscript and the NaN test (~15 times per feature and row).
- `w`: per minute, counts per bin from TimescaleDB's `histogram()` over the integer bin (unit-wide bins,
  so exact; one C aggregate per feature), missing / out-of-range counts and the moments.
- `g` / `s` (numeric features): the per-bin sums by one `GROUP BY (minute, key)` over one tuple per numeric
  value of `r`, key = the feature's offset + its bin (NULL for a NULL value: that group is left out of the
  array; a NaN is keyed into a bin but summed as NULL), plus a zero for every (minute, key) of `w`, so
  that the minute's `array_agg(s ORDER BY key)` is dense and a feature's sums are its slice of it. This replaced
  a correlated subplan per (minute, feature) (`array_agg` of the minute's values, `unnest`, `GROUP BY`
  bin, zero-filled by a join), whose per-execution setup dominated. A bin's sum is the same float8
  additions in the same (scan) order as before: the zero comes after the values.

bench/results/analysis.md (re-bucketing) has the measurements.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from engine.domain import FeatureBaseline

ACTIVE_BASELINES = """
SELECT b.id, b.feature, b.kind, f.position, b.edges, b.categories, b.lower, b.upper, b.reference_counts,
       b.baseline_set, b.reference_sums, b.reference_missing, b.reference_out_of_range, b.reference_min,
       b.reference_max, b.reference_sumsq
FROM feature_baselines b
JOIN model_features f ON f.model_id = b.model_id AND f.name = b.feature
WHERE b.model_id = $1 AND b.active
ORDER BY b.feature
"""


async def active_baselines(conn: asyncpg.Connection, model_id: int) -> list[FeatureBaseline]:
    """The model's active baseline per feature (what its feature windows are binned against)."""
    return [feature_baseline(r) for r in await conn.fetch(ACTIVE_BASELINES, model_id)]


def feature_baseline(r: asyncpg.Record) -> FeatureBaseline:
    """A `FeatureBaseline` from a row of the columns ACTIVE_BASELINES selects."""

    def tup(v: Any) -> Any:
        return tuple(v) if v is not None else None

    return FeatureBaseline(
        id=r["id"],
        feature=r["feature"],
        kind=r["kind"],
        position=r["position"],
        edges=tup(r["edges"]),
        categories=tup(r["categories"]),
        lower=r["lower"],
        upper=r["upper"],
        reference_counts=tup(r["reference_counts"]),
        baseline_set=r["baseline_set"],
        reference_sums=tup(r["reference_sums"]),
        reference_missing=r["reference_missing"],
        reference_out_of_range=r["reference_out_of_range"],
        reference_min=r["reference_min"],
        reference_max=r["reference_max"],
        reference_sumsq=r["reference_sumsq"],
    )


class Params:
    """Positional bind parameters collected while composing SQL: `p(value, "float8[]")` → `$n::float8[]`."""

    def __init__(self, first: list[Any] | None = None) -> None:
        self.values: list[Any] = list(first or [])

    def __call__(self, value: Any, cast: str | None = None) -> str:
        self.values.append(value)
        return f"${len(self.values)}" + (f"::{cast}" if cast else "")


def feature_source_sql(
    baselines: list[FeatureBaseline], p: Params, model: str, lo: str, hi: str, rows_filter: str = ""
) -> str:
    """SELECT producing feature_hist_1m rows (bucket, model_id, baseline_id, feature, n, missing,
    out_of_range, counts, value_sum, value_sumsq, value_min, value_max, bin_sums) for the model bound at
    `model`, over raw rows with `lo <= time < hi` (all three are placeholders from `p`). `rows_filter`,
    composed of placeholders too, narrows the rows further (` AND p.version_id = $n`, a segment containment).

    A `WITH` query (r, w, g, s; see the module docstring): usable as `INSERT INTO … <sql>` and as a
    subquery `FROM (<sql>) x`. Work memory: `r` holds the range's rows and `g` one group per (minute,
    numeric bin); the refresher raises work_mem for its transaction (`refresher.FEATURE_WORK_MEM`)."""
    if not baselines:
        raise ValueError("no active baselines: nothing to bin")
    cols: list[str] = []
    aggs: list[str] = []
    values: list[str] = []
    keys: list[str] = []
    ys: list[str] = []
    offset = 0
    for i, b in enumerate(baselines):
        k = b.n_bins
        if b.kind == "numeric":
            x = f"p.num_features[{b.position}]"
            y = f"r.y_{i}"
            present = f"CASE WHEN {x} <> 'NaN' THEN {x} END"  # NULL: missing (NULL or NaN)
            edges = p(list(b.edges or ()), "float8[]")
            cols.append(f"{present} AS y_{i}, {offset} + width_bucket({x}, {edges}) AS k_{i}")
            aggs.append(f"count(*) - count({y}) AS miss_{i}")
            bounds = []
            if b.lower is not None:
                bounds.append(f"{y} < {p(b.lower, 'float8')}")
            if b.upper is not None:
                bounds.append(f"{y} > {p(b.upper, 'float8')}")
            oor = f"count(*) FILTER (WHERE {' OR '.join(bounds)})" if bounds else "0::bigint"
            aggs.append(f"{oor} AS oor_{i}")
            aggs.append(f"histogram(r.k_{i}, {offset}, {offset + k}, {k}) FILTER (WHERE {y} IS NOT NULL) AS h_{i}")
            aggs.append(f"sum({y}) AS s_{i}, sum({y} * {y}) AS q_{i}, min({y}) AS lo_{i}, max({y}) AS hi_{i}")
            keys.append(f"r.k_{i}")
            ys.append(y)
            moments = f"w.s_{i}, w.q_{i}, w.lo_{i}, w.hi_{i}, s.sums[{offset + 1}:{offset + k}]"
            offset += k
        else:
            c = f"p.cat_features[{b.position}]"
            cols.append(f"{c} AS c_{i}, array_position({p(list(b.categories or ()), 'text[]')}, {c}) AS j_{i}")
            aggs.append(f"count(*) - count(r.c_{i}) AS miss_{i}")
            aggs.append(f"count(r.c_{i}) - count(r.j_{i}) AS oor_{i}")
            aggs.append(f"histogram(r.j_{i}, 1, {k + 1}, {k}) FILTER (WHERE r.j_{i} IS NOT NULL) AS h_{i}")
            moments = "NULL::float8, NULL::float8, NULL::float8, NULL::float8, NULL::float8[]"
        # histogram() element 1 counts values below its range, so bin j (0-based) is element j + 2.
        counts = f"w.h_{i}[2:{k + 1}]"
        values.append(
            f"({b.id}, {p(b.feature, 'text')}, w.miss_{i}, w.oor_{i}, "
            f"coalesce({counts}::bigint[], array_fill(0::bigint, ARRAY[{k}])), {moments})"
        )
    where = f"p.model_id = {model} AND p.time >= {lo} AND p.time < {hi}{rows_filter}"
    sql = (
        "WITH r AS MATERIALIZED (\n  SELECT time_bucket('1 minute', p.time) AS bucket,\n    "
        + ",\n    ".join(cols)
        + f"\n  FROM predictions p\n  WHERE {where}),\n"
        "w AS (\n  SELECT r.bucket, count(*) AS n,\n    "
        + ",\n    ".join(aggs)
        + "\n  FROM r\n  GROUP BY 1)"
    )
    join = ""
    if offset:  # numeric features: their per-bin sums
        sql += (
            ",\ng AS (\n  SELECT t.bucket, t.key, sum(t.v) AS s\n  FROM (SELECT r.bucket,"
            f" unnest(ARRAY[{', '.join(keys)}]) AS key, unnest(ARRAY[{', '.join(ys)}]) AS v FROM r\n"
            f"      UNION ALL\n      SELECT w.bucket, z.key, 0::float8 FROM w CROSS JOIN generate_series(0, {offset - 1}) AS z(key)) t\n"
            "  GROUP BY 1, 2),\n"
            "s AS (SELECT g.bucket, array_agg(g.s ORDER BY g.key) FILTER (WHERE g.key IS NOT NULL) AS sums FROM g GROUP BY 1)"
        )
        join = " JOIN s ON s.bucket = w.bucket"
    return (
        sql
        + f"\nSELECT w.bucket, {model}::integer AS model_id, f.baseline_id, f.feature, w.n, f.missing,"
        " f.out_of_range, f.counts, f.value_sum, f.value_sumsq, f.value_min, f.value_max, f.bin_sums\n"
        f"FROM w{join}\nCROSS JOIN LATERAL (VALUES\n    "
        + ",\n    ".join(values)
        + "\n) AS f(baseline_id, feature, missing, out_of_range, counts, value_sum, value_sumsq, value_min,"
        " value_max, bin_sums)"
    )
