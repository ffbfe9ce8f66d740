"""Reads of window state that are exact and real-time on both editions.

In one REPEATABLE READ snapshot: the pending (not yet refreshed) ranges of the model are read from
`window_invalidations`; buckets untouched by them come from the window relation of the requested level;
for touched ones, the merge is rebuilt from the finer levels' clean buckets plus the raw rows of the
touched minutes (the `_1m_source` views, or the feature SQL). When nothing is pending — the normal case
right after a refresh — the read is one indexed range scan of the level's relation.

Rows are merged per (bucket, group): `group` is a SQL expression over the relation's columns (e.g.
`version_id::text`, `segment ->> 'region'`, `feature`), or None for one row per bucket. The merge runs in
numpy (`engine.windows.merge`) on rows fetched with their count arrays in PostgreSQL's binary array
format: element-wise array sums in SQL cost a function call per row and dominated the read time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from engine.windows.features import Params, active_baselines, feature_source_sql
from engine.windows.merge import Merged, merge_columns, merge_rows
from engine.windows.ranges import Range, clip, merge_ranges
from engine.windows.spec import (
    FEATURES,
    LATENCY_BINS,
    LATENCY_LOG10_HI,
    LATENCY_LOG10_LO,
    LEVEL_ORDER,
    LEVELS,
    Family,
    LevelName,
)

MAX_PENDING_BRANCHES = 32  # beyond this, nearby pending ranges are read as one (raw rows are exact anyway)

PENDING = """
SELECT lo, hi FROM window_invalidations
WHERE kind = $1 AND model_id IS NOT DISTINCT FROM $2 AND hi > $3 AND lo < $4
"""


@dataclass(frozen=True, slots=True)
class WindowRead:
    family: Family
    level: LevelName
    model_id: int | None
    start: datetime
    end: datetime
    group: str | None = None
    # extra predicate on the family's columns, with `{}` placeholders filled by `filter_args` in order
    filter_sql: str = ""
    filter_args: tuple[Any, ...] = ()
    # values for `{}` placeholders in `group` (bound as text parameters)
    group_args: tuple[Any, ...] = ()


def coarsen(ranges: list[Range], limit: int) -> list[Range]:
    """At most `limit` ranges covering `ranges`, closing the smallest gaps first."""
    out = list(ranges)
    while len(out) > limit:
        gaps = [(out[i + 1][0] - out[i][1], i) for i in range(len(out) - 1)]
        _, i = min(gaps)
        out[i : i + 2] = [(out[i][0], out[i + 1][1])]
    return out


def _model_pred(model_id: int | None, p: Params) -> str:
    return "model_id IS NULL" if model_id is None else f"model_id = {p(model_id, 'integer')}"


def _filter(read: WindowRead, p: Params) -> str:
    if not read.filter_sql:
        return ""
    return " AND " + read.filter_sql.format(*(p(a) for a in read.filter_args))


def _overlaps(expr: str, width: str, lo: str, hi: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM unnest({lo}, {hi}) AS d(lo, hi)"
        f" WHERE {expr} < d.hi AND {expr} + interval '{width}' > d.lo)"
    )


def _latency_element(v: str, shift: int) -> str:
    """SQL: the 1-based element of the latency histogram holding value `v`, plus `shift - 2`, clamped."""
    per = LATENCY_BINS / (LATENCY_LOG10_HI - LATENCY_LOG10_LO)
    x = f"floor((log(greatest({v}, 1e-300)) - ({LATENCY_LOG10_LO})) * {per})"
    return f"least(greatest(coalesce({x}::int + {shift}, 1), 1), {LATENCY_BINS + 2})"


def _out_columns(fam: Family) -> str:
    """The select list: count arrays in binary form; the latency histogram trimmed to the bins its
    bucket's [min, max] can occupy (one bin of margin each side), with the 1-based element the slice
    starts at (`<col>_from`) and the full length (`<col>_len`): most of its 142 elements are zeros, and
    shipping each element costs server time."""
    cols = {c for c, _ in fam.state}
    out = []
    for c, how in fam.state:
        if how != "counts":
            out.append(c)
        elif c == "latency_hist" and {"latency_min", "latency_max"} <= cols:
            lo, hi = _latency_element("latency_min", 1), _latency_element("latency_max", 3)
            out.append(f"{lo} AS {c}_from, cardinality({c}) AS {c}_len, array_send({c}[{lo}:{hi}]) AS {c}")
        else:
            out.append(f"array_send({c}) AS {c}")
    return ", ".join(out)


async def read_windows(conn: asyncpg.Connection, read: WindowRead) -> list[dict[str, Any]]:
    """Merged window state per (bucket, grp) over [start, end) widened to whole buckets of the level,
    ordered by bucket then group. Run inside a REPEATABLE READ transaction for one consistent snapshot
    (`read_windows_snapshot` does that)."""
    return merge_rows(read.family, await fetch_window_rows(conn, read))


async def read_windows_merged(conn: asyncpg.Connection, read: WindowRead) -> Merged:
    """`read_windows` as columns (`merge.Merged`), for callers that work on all buckets at once."""
    return merge_columns(read.family, await fetch_window_rows(conn, read))


async def fetch_window_rows(conn: asyncpg.Connection, read: WindowRead) -> list[asyncpg.Record]:
    """The unmerged rows of `read`, sorted by (bucket, grp) (several per key where series or levels meet)."""
    level = LEVELS[read.level]
    lo, hi = level.floor(read.start), level.ceil(read.end)
    if hi <= lo:
        raise ValueError(f"empty time range [{read.start}, {read.end})")
    fam = read.family
    pending_rows = await conn.fetch(PENDING, fam.kind, read.model_id, lo, hi)
    pending = coarsen(
        clip(merge_ranges((r["lo"], r["hi"]) for r in pending_rows), lo, hi), MAX_PENDING_BRANCHES
    )
    p = Params()
    group = read.group.format(*(p(a, "text") for a in read.group_args)) if read.group else "NULL::text"
    out_cols = _out_columns(fam)
    rel = fam.relation(read.level)
    if not pending:
        model = _model_pred(read.model_id, p)
        where = f"{model} AND bucket >= {p(lo)} AND bucket < {p(hi)}{_filter(read, p)}"
        sql = f"SELECT bucket, {group} AS grp, {out_cols} FROM {rel} WHERE {where} ORDER BY 1, 2"
        return await conn.fetch(sql, *p.values)

    d_lo = p([r[0] for r in pending], "timestamptz[]")
    d_hi = p([r[1] for r in pending], "timestamptz[]")
    model = _model_pred(read.model_id, p)
    span = f"bucket >= {p(lo)} AND bucket < {p(hi)}"
    filt = _filter(read, p)
    cols = ", ".join(fam.columns)
    parts = []
    index = LEVEL_ORDER.index(read.level)
    parts.append(
        f"SELECT {cols} FROM {rel} WHERE {model} AND {span}{filt}"
        f" AND NOT {_overlaps('bucket', level.sql_interval, d_lo, d_hi)}"
    )
    for j in range(index):
        finer, parent = LEVELS[LEVEL_ORDER[j]], LEVELS[LEVEL_ORDER[j + 1]]
        parent_bucket = f"time_bucket('{parent.sql_interval}', bucket)"
        parts.append(
            f"SELECT {cols} FROM {fam.relation(finer.name)} WHERE {model} AND {span}{filt}"
            f" AND {_overlaps(parent_bucket, parent.sql_interval, d_lo, d_hi)}"
            f" AND NOT {_overlaps('bucket', finer.sql_interval, d_lo, d_hi)}"
        )
    baselines = await active_baselines(conn, read.model_id) if fam is FEATURES and read.model_id else []
    for r_lo, r_hi in pending:
        if fam is FEATURES:
            if not baselines:
                continue
            src = feature_source_sql(baselines, p, p(read.model_id, "integer"), p(r_lo), p(r_hi))
            parts.append(f"SELECT {cols} FROM ({src}) s WHERE true{filt}")
        else:
            parts.append(
                f"SELECT {cols} FROM {fam.raw_source} WHERE {model}"
                f" AND bucket >= {p(r_lo)} AND bucket < {p(r_hi)}{filt}"
            )
    union = "\nUNION ALL\n".join(parts)
    sql = (
        f"SELECT time_bucket('{level.sql_interval}', bucket) AS bucket, {group} AS grp, {out_cols}\n"
        f"FROM ({union}) u ORDER BY 1, 2"
    )
    return await conn.fetch(sql, *p.values)


async def read_windows_snapshot(
    pool: asyncpg.Pool, reads: Sequence[WindowRead]
) -> list[list[asyncpg.Record]]:
    """Several reads in one consistent snapshot."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return [await read_windows(conn, r) for r in reads]


async def read_windows_merged_snapshot(pool: asyncpg.Pool, reads: Sequence[WindowRead]) -> list[Merged]:
    """Several columnar reads in one consistent snapshot. A long read (at least `SPLIT_MIN_BUCKETS`
    buckets) is split in two halves read at once on two connections sharing the snapshot
    (`pg_export_snapshot` / `SET TRANSACTION SNAPSHOT`): shipping the count arrays is server CPU per
    element, so two backends halve it on a multi-core server."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        out = []
        for r in reads:
            halves = split_read(r)
            if halves is None:
                out.append(await read_windows_merged(conn, r))
                continue
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            first, second = await asyncio.gather(
                fetch_window_rows(conn, halves[0]), _fetch_in_snapshot(pool, snapshot, halves[1])
            )
            out.append(merge_columns(r.family, [*first, *second]))
        return out


SPLIT_MIN_BUCKETS = 240


def split_read(read: WindowRead) -> tuple[WindowRead, WindowRead] | None:
    """Two reads of adjacent halves (at a bucket boundary of the level), or None if not worth it."""
    level = LEVELS[read.level]
    lo, hi = level.floor(read.start), level.ceil(read.end)
    buckets = (hi - lo) // level.width
    if buckets < SPLIT_MIN_BUCKETS:
        return None
    mid = lo + (buckets // 2) * level.width
    return replace(read, start=lo, end=mid), replace(read, start=mid, end=hi)


async def _fetch_in_snapshot(pool: asyncpg.Pool, snapshot: str, read: WindowRead) -> list[asyncpg.Record]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        return await fetch_window_rows(conn, read)
