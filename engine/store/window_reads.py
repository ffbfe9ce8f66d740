"""Typed reads of window state, exact and real-time on both editions.

`read_windows(snapshot, reads) -> list[Merged]`: each `WindowRead` names a family, a level, a model, a time
range and a grouping from a closed set (`GroupBy`); values (segment or tag keys, metric names, baseline ids)
are bind parameters, and the identifiers in the SQL text (relations, columns, intervals) come from
`engine.windows.spec`, never from a request.

Within one snapshot: the pending (not yet refreshed) ranges of the model are read from
`window_invalidations`; buckets untouched by them come from the window relation of the requested level;
for touched ones, the merge is rebuilt from the finer levels' clean buckets plus the raw rows of the
touched minutes (the `_1m_source` views, or the feature SQL). When nothing is pending — the normal case
right after a refresh — the read is one indexed range scan of the level's relation.

Rows are merged per (bucket, group) in numpy (`engine.windows.merge`) from rows fetched with their count
arrays as bytes: element-wise array sums in SQL cost a function call per row and dominated the read time.
The bytes are the arrays' stored form (`dl_array_bytes`, migration 0015) where that function exists and
gives the layout the merge expects (probed once per connection), else PostgreSQL's binary array format
(`array_send`, which costs the server a send-function call and a buffer per element: ~55 ns, most of a
4 320-row read's server time).
"""

from __future__ import annotations

import asyncio
import struct
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import asyncpg

from engine.store.feature_bins import Params, active_baselines, feature_source_sql
from engine.store.unit import Snapshot
from engine.windows.merge import SCALARS, Merged, merge_columns
from engine.windows.ranges import Range, clip, merge_ranges
from engine.windows.spec import (
    FEATURES,
    GRANULARITIES,
    LATENCY_BINS,
    LATENCY_LOG10_HI,
    LATENCY_LOG10_LO,
    LEVEL_ORDER,
    LEVELS,
    METRICS,
    Family,
    Granularity,
    LevelName,
)

NAN = "'NaN'::float8"
MAX_PENDING_BRANCHES = 32  # beyond this, nearby pending ranges are read as one (raw rows are exact anyway)

PENDING = """
SELECT lo, hi FROM window_invalidations
WHERE kind = $1 AND model_id IS NOT DISTINCT FROM $2 AND hi > $3 AND lo < $4
"""

# The function giving a window array's bytes, per (physical) connection: "dl_array_bytes" or "array_send".
_ARRAY_BYTES: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()
_HAS_ARRAY_BYTES = "SELECT to_regprocedure('dl_array_bytes(anyarray)') IS NOT NULL"
_ARRAY_BYTES_PROBE = "SELECT dl_array_bytes(ARRAY[1, 2]::int8[])"
# one dimension, no NULLs (data offset 0), bigint (oid 20), 2 elements from 1; then 1 and 2, little-endian
_ARRAY_BYTES_EXPECTED = struct.pack("<iiIiiqq", 1, 0, 20, 2, 1, 1, 2)


async def array_bytes_function(conn: asyncpg.Connection) -> str:
    """`dl_array_bytes` when this database has it (migration 0015, created by a superuser) and it gives the
    stored little-endian layout `engine.windows.merge` reads; else `array_send`. Probed once per connection
    (a pool's proxy stands for the connection it wraps)."""
    key = getattr(conn, "_con", None) or conn
    form = _ARRAY_BYTES.get(key)
    if form is None:
        form = "array_send"
        if await conn.fetchval(_HAS_ARRAY_BYTES) and await conn.fetchval(_ARRAY_BYTES_PROBE) == _ARRAY_BYTES_EXPECTED:
            form = "dl_array_bytes"
        _ARRAY_BYTES[key] = form
    return form


GroupKind = Literal["version", "segment", "tag", "feature"]
# The grouping expressions, by kind, and the key column each needs: the only SQL a grouping adds. A key
# (segment or tag name) is bound where `{key}` stands.
_GROUP_SQL: dict[GroupKind, tuple[str, str]] = {
    "version": ("version_id::text", "version_id"),
    "segment": ("segment ->> {key}", "segment"),
    "tag": ("tags ->> {key}", "tags"),
    "feature": ("feature", "feature"),
}


@dataclass(frozen=True, slots=True)
class GroupBy:
    kind: GroupKind
    key: str | None = None  # the segment or tag key, for kinds "segment" and "tag"

    def sql(self, family: Family, p: Params) -> str:
        expr, column = _GROUP_SQL[self.kind]
        if column not in family.keys:
            raise ValueError(f"{family.name} has no {column} to group by")
        if "{key}" in expr:
            if not isinstance(self.key, str):
                raise ValueError(f"grouping by {self.kind} needs a key")
            return expr.replace("{key}", p(self.key, "text"))
        return expr


@dataclass(frozen=True, slots=True)
class WindowRead:
    """One typed read: `family` at the stored `level`, over exactly [start, end) (see `covered`),
    bucketed by `granularity` (a name of `spec.GRANULARITIES` whose base is `level`; default the
    level itself), optionally grouped, and filtered on segment values (`segments`: key = value pairs, all
    of which a row must have; only families keyed by segment)."""

    family: Family
    level: LevelName
    model_id: int | None
    start: datetime
    end: datetime
    # one key (grp: text) or several (grp: text[], in this order)
    group: GroupBy | tuple[GroupBy, ...] | None = None
    metric_name: str | None = None  # the custom metric (family METRICS)
    baseline_ids: tuple[int, ...] | None = None  # the feature baselines (family FEATURES)
    granularity: str | None = None
    segments: tuple[tuple[str, str], ...] = ()
    version_id: int | None = None  # one model version (only families keyed by version)

    @property
    def buckets(self) -> Granularity:
        g = GRANULARITIES[self.granularity or self.level]
        if g.base != self.level:
            raise ValueError(f"granularity {g.name} is not built from level {self.level}")
        return g


def covered(start: datetime, end: datetime) -> Range:
    """The range a read of [start, end) answers: exactly that one, to the microsecond. A bound inside a
    minute is met by counting that edge minute's raw rows inside the range only (`dl_*_between`)."""
    return start, end


# Per family kind, the SQL function giving the 1-minute source rows of one model over raw rows with
# lo <= time < hi for any bounds (migration 0013): the edge minutes of a range whose bounds fall inside a minute.
_RAW_BETWEEN = {"predictions": "dl_predictions_between", "metrics": "dl_metrics_between"}


def _raw_pieces(lo: datetime, hi: datetime) -> list[tuple[datetime, datetime, bool]]:
    """[lo, hi) as whole minutes (read through the 1-minute source view, False) and the partial minutes at
    its ends (read through the `_RAW_BETWEEN` function, True)."""
    minute = LEVELS["1m"]
    whole_lo, whole_hi = minute.ceil(lo), minute.floor(hi)
    if whole_lo >= whole_hi:
        return [(lo, hi, True)]
    out = [(whole_lo, whole_hi, False)]
    if lo < whole_lo:
        out.insert(0, (lo, whole_lo, True))
    if whole_hi < hi:
        out.append((whole_hi, hi, True))
    return out


def _group_sql(read: WindowRead, p: Params) -> str:
    if read.group is None:
        return "NULL::text"
    if isinstance(read.group, GroupBy):
        return read.group.sql(read.family, p)
    if not read.group:
        raise ValueError("an empty grouping")
    return f"ARRAY[{', '.join(g.sql(read.family, p) for g in read.group)}]::text[]"


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
    out = ""
    if read.metric_name is not None:
        if read.family.name != METRICS.name:
            raise ValueError("metric_name filters the custom metric windows only")
        out += f" AND name = {p(read.metric_name, 'text')}"
    for key, value in read.segments:
        if "segment" not in read.family.keys:
            raise ValueError(f"{read.family.name} has no segment to filter on")
        out += f" AND segment ->> {p(key, 'text')} = {p(value, 'text')}"
    if read.version_id is not None:
        if "version_id" not in read.family.keys:
            raise ValueError(f"{read.family.name} has no version to filter on")
        out += f" AND version_id = {p(read.version_id, 'integer')}"
    if read.baseline_ids is not None:
        if read.family.name != FEATURES.name:
            raise ValueError("baseline_ids filter the feature windows only")
        out += f" AND baseline_id = ANY({p(list(read.baseline_ids), 'int[]')})"
    return out


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


def _out_columns(fam: Family, send: str) -> str:
    """The select list: count arrays as bytes (`send`: `array_bytes_function`). With `array_send`, the
    latency histogram is trimmed to the bins its bucket's [min, max] can occupy (one bin of margin each
    side), with the 1-based element the slice starts at (`<col>_from`) and the full length (`<col>_len`):
    most of its 142 elements are zeros, and each costs the server a send call. The stored bytes cost no
    more whole than sliced (a 4 320-row read: 35 vs 39 ms to fetch, 17 vs 19 ms to merge), so they come
    whole. The scalar state columns (counts, sums, minima, maxima) travel as one float8 array (`SCALARS`,
    in state order, NULL as NaN): decoding ~30 columns per row into Python objects and back into numpy was
    a fifth of the client's CPU for a 4 320-row read."""
    cols = {c for c, _ in fam.state}
    out = []
    scalars = [c for c, how in fam.state if how not in ("counts", "sums")]
    if scalars:
        out.append(f"{send}(ARRAY[{', '.join(f'coalesce({c}::float8, {NAN})' for c in scalars)}]) AS {SCALARS}")
    for c, how in fam.state:
        if how not in ("counts", "sums"):
            continue
        if c == "latency_hist" and send == "array_send" and {"latency_min", "latency_max"} <= cols:
            lo, hi = _latency_element("latency_min", 1), _latency_element("latency_max", 3)
            out.append(f"{lo} AS {c}_from, cardinality({c}) AS {c}_len, {send}({c}[{lo}:{hi}]) AS {c}")
        else:
            out.append(f"{send}({c}) AS {c}")
    return ", ".join(out)


def _micros(bucket: str) -> str:
    """A bucket start as integer microseconds since the Unix epoch: decoding one bigint costs the client a
    fraction of a timestamptz (a tz-aware datetime per row); `merge_columns` turns the starts of the merged
    buckets back into datetimes. `date_part` (float8) costs the server less than `extract` (numeric) and is
    exact here: bucket starts are whole minutes, and the cast to bigint rounds (float8 seconds carry < 0.5 µs
    of error for any time before 2100)."""
    return f"(date_part('epoch', {bucket}) * 1000000)::int8"


def _bucket_of(row: asyncpg.Record) -> int:
    bucket: int = row[0]  # integer microseconds (`_micros`)
    return bucket


def _hashable(grp: object) -> object:
    """A group as a dict key (several keys arrive as a list)."""
    return tuple(grp) if isinstance(grp, list) else grp


async def fetch_window_rows(conn: asyncpg.Connection, read: WindowRead) -> list[asyncpg.Record]:
    """The unmerged rows of `read`, sorted by (bucket, grp) (several per key where series or levels meet);
    `bucket` in microseconds since the epoch.

    Exact: the requested range (`covered`) need not fall on bucket edges. The whole buckets of the
    granularity overlapping it are [lo, hi); the parts of [lo, hi) outside the range are treated like
    pending ranges that are never read back (excluded from every level), and the pending ranges inside it
    are read from raw rows. So a bucket only partly inside the range is rebuilt from the finer levels' whole
    buckets inside it (and raw rows where those are pending), and keeps its label (the bucket's start).

    The single-scan read (nothing pending, range on bucket edges) is not sorted by PostgreSQL: sorting every
    wide row before sending any was ~20-25 % of the server's time for a 4 320-row read (and kept the client
    from decoding while the server computes). Its rows are sorted here, by bucket and by the rank of their
    group among the read's groups as PostgreSQL orders them (a `SELECT DISTINCT` of the groups: the same
    order, collation and NULL placement as `ORDER BY 1, 2`)."""
    level = LEVELS[read.level]
    gran = read.buckets
    s, e = covered(read.start, read.end)
    lo, hi = gran.floor(s), gran.ceil(e)
    if e <= s:
        raise ValueError(f"empty time range [{read.start}, {read.end})")
    fam = read.family
    pending_rows = await conn.fetch(PENDING, fam.kind, read.model_id, s, e)
    minute = LEVELS["1m"]
    # Raw rows answer the pending ranges and the parts of [s, e) in the minutes its bounds cut.
    edges = [(s, min(minute.ceil(s), e)), (max(minute.floor(e), s), e)]
    pending = coarsen(
        clip(merge_ranges([*((r["lo"], r["hi"]) for r in pending_rows), *edges]), s, e), MAX_PENDING_BRANCHES
    )
    outside = [r for r in ((lo, s), (e, hi)) if r[1] > r[0]]
    p = Params()
    group = _group_sql(read, p)
    out_cols = _out_columns(fam, await array_bytes_function(conn))
    rel = fam.relation(read.level)
    bucket = "bucket" if gran.width == level.width else f"time_bucket('{gran.sql_interval}', bucket)"
    if not pending and not outside:
        model = _model_pred(read.model_id, p)
        where = f"{model} AND bucket >= {p(lo)} AND bucket < {p(hi)}{_filter(read, p)}"
        sql = f"SELECT {_micros(bucket)} AS bucket, {group} AS grp, {out_cols} FROM {rel} WHERE {where}"
        rows = await conn.fetch(sql, *p.values)
        if read.group is None:
            rows.sort(key=_bucket_of)
            return rows
        # the groups in PostgreSQL's order (its collation, NULL last), then every row by (bucket, that rank)
        ranks = await conn.fetch(f"SELECT DISTINCT {group} AS grp FROM {rel} WHERE {where} ORDER BY 1", *p.values)
        rank = {_hashable(r[0]): i for i, r in enumerate(ranks)}
        by_rank = (lambda r: rank[tuple(r[1])]) if isinstance(read.group, tuple) else (lambda r: rank[r[1]])
        try:
            rows.sort(key=by_rank)
        except KeyError:  # a group the DISTINCT did not see (only outside one snapshot): after the others
            for g in sorted({_hashable(r[1]) for r in rows} - rank.keys(), key=repr):
                rank[g] = len(rank)
            rows.sort(key=by_rank)
        rows.sort(key=_bucket_of)  # stable: by bucket, then group rank
        return rows

    dirty = merge_ranges([*pending, *outside])
    d_lo = p([r[0] for r in dirty], "timestamptz[]")
    d_hi = p([r[1] for r in dirty], "timestamptz[]")
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
            for a, b, partial in _raw_pieces(r_lo, r_hi):
                if partial:
                    src = f"{_RAW_BETWEEN[fam.kind]}({p(read.model_id, 'integer')}, {p(a)}, {p(b)})"
                    parts.append(f"SELECT {cols} FROM {src} WHERE true{filt}")
                else:
                    parts.append(
                        f"SELECT {cols} FROM {fam.raw_source} WHERE {model}"
                        f" AND bucket >= {p(a)} AND bucket < {p(b)}{filt}"
                    )
    union = "\nUNION ALL\n".join(parts)
    gran_bucket = f"time_bucket('{gran.sql_interval}', bucket)"
    sql = (
        f"SELECT {_micros(gran_bucket)} AS bucket, {group} AS grp, {out_cols}\n"
        f"FROM ({union}) u ORDER BY 1, 2"
    )
    return await conn.fetch(sql, *p.values)


async def read_windows(snapshot: Snapshot, reads: Sequence[WindowRead]) -> list[Merged]:
    """Merged window state per (bucket, group) over exactly `covered(start, end)` (a bucket partly inside
    holds only what is inside), ordered by bucket then group, all in `snapshot`. A long read (at least `SPLIT_MIN_BUCKETS` buckets) is
    split in two halves read at once on two connections sharing the snapshot when the snapshot's unit
    grants a spare connection: shipping the count arrays is server CPU per element, so two backends halve
    it on a multi-core server."""
    out = []
    for r in reads:
        halves = split_read(r) if snapshot.spare is not None else None
        if halves is None:
            out.append(merge_columns(r.family, await fetch_window_rows(snapshot.conn, r)))
            continue
        async with snapshot.borrow() as other:
            first, second = await asyncio.gather(
                fetch_window_rows(snapshot.conn, halves[0]), fetch_window_rows(other, halves[1])
            )
        out.append(merge_columns(r.family, [*first, *second]))
    return out


SPLIT_MIN_BUCKETS = 240


def split_read(read: WindowRead) -> tuple[WindowRead, WindowRead] | None:
    """Two reads of adjacent parts of the range, cut at a bucket edge of the granularity near the middle,
    or None if not worth it."""
    gran = read.buckets
    s, e = covered(read.start, read.end)
    lo, hi = gran.floor(s), gran.ceil(e)
    buckets = (hi - lo) // gran.width
    if buckets < SPLIT_MIN_BUCKETS:
        return None
    mid = lo + (buckets // 2) * gran.width
    return replace(read, start=s, end=mid), replace(read, start=mid, end=e)
