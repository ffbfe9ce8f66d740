"""Keeps the window relations current from the record of touched ranges (`window_invalidations`).

Every write to `predictions` / `metrics` records the minutes it touched, in the writer's transaction
(statement-level triggers, so psql backfills count too). `refresh(uow)` consumes those records:

- Rollup tables (Apache edition; feature histograms on both editions): per (kind, model), in one
  transaction holding a transaction-level advisory lock on that (kind, model): recompute (DELETE + INSERT
  from the source view, never add) the touched 1m buckets, then the 1h and 1d buckets containing them
  (at each level the segment-merged `predictions_by_version_<level>` right after `predictions_<level>`,
  `spec.ROLLUPS`), delete the consumed records, advance the watermark. Idempotent; a refresher that finds
  a (kind, model) locked skips it (another one is on it), so any number may run at once; a crash rolls
  everything back and the records stay pending.
- Continuous aggregates (full edition): per kind, under a session advisory lock,
  `refresh_continuous_aggregate` over exactly the touched ranges at 1m, then 1h, then 1d (each level's
  rollups right after it; it cannot run in a transaction block), then the records are deleted. This is what brings in late data older than the
  refresh policies' windows.

Before either, the labels deferred into `pending_labels` (labels for predictions in compressed chunks,
migration 0014) are applied, one transaction per model (`engine.rollups.pending_labels`): their UPDATEs
record the touched minutes, which the same call then refreshes.

Entry point for the worker and `driftline rollups refresh`: `engine.rollups.refresher.refresh(uow)`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from engine.rollups.pending_labels import apply_pending_labels
from engine.store.feature_bins import Params, active_baselines, feature_source_sql
from engine.store.unit import UnitOfWork
from engine.windows.ranges import Range, align, merge_ranges, take_budget
from engine.windows.spec import FAMILIES, FEATURES, LEVEL_ORDER, LEVELS, ROLLUPS, Family, LevelName

log = logging.getLogger("driftline.rollups")
DEFAULT_BUDGET = timedelta(hours=6)  # of 1m buckets per transaction (bounded lock time and memory)
# Advisory lock key (namespace, model): one lock per (kind, model); model 0 = the whole kind.
_LOCK_KEY = "hashtext('driftline.windows.' || $1::text)"
TRY_GROUP_LOCK = f"SELECT pg_try_advisory_xact_lock({_LOCK_KEY}, $2)"  # $1 kind, $2 model id (0: none)
TRY_KIND_LOCK = f"SELECT pg_try_advisory_lock({_LOCK_KEY}, 0)"
KIND_UNLOCK = f"SELECT pg_advisory_unlock({_LOCK_KEY}, 0)"
REFRESH_CAGG = "CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz, force => $4::boolean)"
# work_mem of a transaction recomputing feature windows (SET LOCAL: back to the server's at commit). The 1m
# feature statement materialises the range's rows (one column per feature) and hash-aggregates one tuple
# per present numeric value (per-bin sums): ~70 MB and ~45 MB for 6 hours of 463 rows a minute with 20
# numeric features, which spill to temporary files at PostgreSQL's default of 4 MB. The float8 sums of a
# bucket (value_sum, bin_sums) are added in the order the rows arrive, so the plan must keep the table's
# order to give the same bits on every recomputation: no parallel plan (a Gather interleaves the workers'
# rows) and a custom plan per range (after five executions of the cached statement PostgreSQL may switch to
# a generic plan for an unknown range: measured, its sums differed from the old statement's in the last
# bits on the ranges after the fifth, and equal them bit for bit with custom plans).
FEATURE_WORK_MEM = "128MB"
FEATURE_SETTINGS = (
    "SELECT set_config('work_mem', $1, true), set_config('max_parallel_workers_per_gather', '0', true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)"
)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one `refresh` call did. `minutes` counts the 1-minute buckets brought up to date, per (kind,
    model) and summed — the same count on both editions, although a continuous aggregate refreshes the
    union of the models' ranges at once; `skipped_locked` the (kind, model) groups another refresher held."""

    edition: str
    groups: int = 0
    records: int = 0
    minutes: int = 0
    rows_written: dict[str, int] = field(default_factory=dict)
    skipped_locked: int = 0
    seconds: float = 0.0
    # Groups (kind, model) whose refresh failed this time: their records stay pending and are retried on the
    # next call; the other groups went on.
    failed: tuple[str, ...] = ()
    labels_applied: int = 0  # pending labels (into compressed history) applied before the windows

    def to_dict(self) -> dict[str, Any]:
        return {
            "edition": self.edition,
            "groups": self.groups,
            "records": self.records,
            "minutes": self.minutes,
            "rows_written": dict(self.rows_written),
            "skipped_locked": self.skipped_locked,
            "seconds": round(self.seconds, 6),
            "failed": list(self.failed),
            "labels_applied": self.labels_applied,
        }


@dataclass(slots=True)
class _Tally:
    groups: int = 0
    records: int = 0
    minutes: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)

    def wrote(self, relation: str, status: str) -> None:
        n = int(status.rsplit(" ", 1)[-1]) if status.startswith("INSERT") else 0
        self.rows[relation] = self.rows.get(relation, 0) + n


async def is_continuous_aggregate(conn: asyncpg.Connection, relation: str) -> bool:
    kind = await conn.fetchval("SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)", relation)
    return kind == "v"


def _minutes(ranges: list[Range]) -> int:
    return int(sum((hi - lo).total_seconds() for lo, hi in ranges) // 60)


def _model_pred(model_id: int | None) -> str:
    return "model_id IS NULL" if model_id is None else "model_id = $1"


def _model_args(model_id: int | None) -> list[Any]:
    return [] if model_id is None else [model_id]


async def _recompute_table_level(
    conn: asyncpg.Connection,
    family: Family,
    level: LevelName,
    model_id: int | None,
    ranges: list[Range],
    tally: _Tally,
    source_sql: tuple[str, list[Any]] | None = None,
    insert: bool = True,
) -> None:
    rel = family.relation(level)
    pred = _model_pred(model_id)
    off = 0 if model_id is None else 1
    if len(ranges) == 1:
        await conn.execute(
            f"DELETE FROM {rel} WHERE {pred} AND bucket >= ${off + 1} AND bucket < ${off + 2}",
            *_model_args(model_id),
            *ranges[0],
        )
    elif ranges:
        # One statement for all ranges: late rows scattered over a week touch ~10 000 one-minute ranges, and a
        # statement per range (planned against every chunk of the hypertable) was half of a refresh's time
        # (bench/results/refresh_lag.md). The INSERTs stay one per range: the source views are pushed down to
        # the raw rows' time index only for constant bounds.
        await conn.execute(
            f"DELETE FROM {rel} USING unnest(${off + 1}::timestamptz[], ${off + 2}::timestamptz[]) AS r(lo, hi)"
            f" WHERE {pred} AND bucket >= r.lo AND bucket < r.hi",
            *_model_args(model_id),
            [lo for lo, _ in ranges],
            [hi for _, hi in ranges],
        )
    if not insert:
        return
    for lo, hi in ranges:
        if source_sql is not None:  # feature 1m rows come from per-model SQL ($1 model, $2 lo, $3 hi)
            sql, extra = source_sql
            status = await conn.execute(f"INSERT INTO {rel} {sql}", model_id, lo, hi, *extra)
        else:
            status = await conn.execute(
                f"INSERT INTO {rel} SELECT * FROM {family.source(level)}"
                f" WHERE {pred} AND bucket >= ${off + 1} AND bucket < ${off + 2}",
                *_model_args(model_id),
                lo,
                hi,
            )
        tally.wrote(rel, status)


async def _recompute_tables(
    conn: asyncpg.Connection,
    family: Family,
    model_id: int | None,
    minutes: list[Range],
    tally: _Tally,
    rollups: tuple[Family, ...] = (),
) -> None:
    source_sql = None
    insert = True
    if family is FEATURES:
        assert model_id is not None
        baselines = await active_baselines(conn, model_id)
        if baselines:
            await conn.execute(FEATURE_SETTINGS, FEATURE_WORK_MEM)
            p = Params([model_id, None, None])
            source_sql = (feature_source_sql(baselines, p, "$1", "$2", "$3"), p.values[3:])
        else:  # no active baseline any more: the model's feature windows are emptied for these minutes
            insert = False
    for level in LEVEL_ORDER:
        ranges = align(minutes, LEVELS[level])
        await _recompute_table_level(
            conn,
            family,
            level,
            model_id,
            ranges,
            tally,
            source_sql if level == "1m" else None,
            insert=insert or level != "1m",
        )
        for rollup in rollups:  # built from the level just recomputed
            await _recompute_table_level(conn, rollup, level, model_id, ranges, tally)


async def _advance_watermark(
    conn: asyncpg.Connection, kind: str, model_id: int | None, ranges: list[Range]
) -> None:
    await conn.execute(
        """INSERT INTO window_watermarks (kind, model_key, materialized_through, refreshed_at)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (kind, model_key) DO UPDATE
           SET materialized_through = greatest(window_watermarks.materialized_through, EXCLUDED.materialized_through),
               refreshed_at = now()""",
        kind,
        model_id or 0,
        max(hi for _, hi in ranges),
    )


async def _refresh_table_group(
    conn: asyncpg.Connection,
    family: Family,
    model_id: int | None,
    cutoff: datetime,
    budget: timedelta,
    tally: _Tally,
    rollups: tuple[Family, ...] = (),
) -> None:
    model_sel = "model_id IS NULL" if model_id is None else "model_id = $3"
    while True:
        async with conn.transaction():
            got = await conn.fetchval(TRY_GROUP_LOCK, family.kind, model_id or 0)
            if not got:
                tally.skipped += 1
                return
            args: list[Any] = [family.kind, cutoff, *_model_args(model_id)]
            rows = await conn.fetch(
                f"SELECT id, lo, hi, created_at FROM window_invalidations"
                f" WHERE kind = $1 AND created_at <= $2 AND {model_sel} ORDER BY lo",
                *args,
            )
            if not rows:
                return
            ranges = merge_ranges((r["lo"], r["hi"]) for r in rows)
            taken, rest = take_budget(ranges, budget)
            await _recompute_tables(conn, family, model_id, taken, tally, rollups)
            await conn.execute(
                "DELETE FROM window_invalidations WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
            if rest:  # put back what did not fit, keeping the original age so this refresh comes back to it
                oldest = min(r["created_at"] for r in rows)
                await conn.executemany(
                    "INSERT INTO window_invalidations (kind, model_id, lo, hi, created_at) VALUES ($1, $2, $3, $4, $5)",
                    [(family.kind, model_id, lo, hi, oldest) for lo, hi in rest],
                )
            await _advance_watermark(conn, family.kind, model_id, taken)
            tally.records += len(rows)
            tally.minutes += _minutes(taken)
            if not rest:
                tally.groups += 1
                return


async def _refresh_cagg_kind(
    conn: asyncpg.Connection, family: Family, cutoff: datetime, tally: _Tally, rollups: tuple[Family, ...] = ()
) -> None:
    got = await conn.fetchval(TRY_KIND_LOCK, family.kind)
    if not got:
        tally.skipped += 1
        return
    try:
        rows = await conn.fetch(
            "SELECT id, model_id, lo, hi, force FROM window_invalidations WHERE kind = $1 AND created_at <= $2",
            family.kind,
            cutoff,
        )
        if not rows:
            return
        minutes = merge_ranges((r["lo"], r["hi"]) for r in rows)
        # Ranges whose windows changed without a write (a dimension declared later): a continuous aggregate
        # refreshes only what its own invalidation log lists, unless forced.
        forced = merge_ranges((r["lo"], r["hi"]) for r in rows if r["force"])
        written = merge_ranges((r["lo"], r["hi"]) for r in rows if not r["force"])
        for level in LEVEL_ORDER:
            for relation in (family.relation(level), *(r.relation(level) for r in rollups)):
                for lo, hi in align(written, LEVELS[level]):
                    await conn.execute(REFRESH_CAGG, relation, lo, hi, False)
                for lo, hi in align(forced, LEVELS[level]):
                    await conn.execute(REFRESH_CAGG, relation, lo, hi, True)
        await conn.execute(
            "DELETE FROM window_invalidations WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
        )
        for model_id in {r["model_id"] for r in rows}:
            await _advance_watermark(conn, family.kind, model_id, minutes)
        models = {r["model_id"] for r in rows}
        tally.groups += len(models)
        tally.records += len(rows)
        tally.minutes += sum(
            _minutes(merge_ranges((r["lo"], r["hi"]) for r in rows if r["model_id"] == m)) for m in models
        )
    finally:
        await conn.execute(KIND_UNLOCK, family.kind)


async def present_rollups(conn: asyncpg.Connection) -> dict[str, tuple[Family, ...]]:
    """`spec.ROLLUPS` restricted to the relations this database has: a worker already running a newer
    engine keeps the windows it knows current until the migration that adds the rest has run."""
    out: dict[str, tuple[Family, ...]] = {}
    for kind, families in ROLLUPS.items():
        names = [f.relation(level) for f in families for level in LEVEL_ORDER]
        present = set(
            await conn.fetchval(
                "SELECT coalesce(array_agg(n), '{}') FROM unnest($1::text[]) n WHERE to_regclass(n) IS NOT NULL",
                names,
            )
        )
        out[kind] = tuple(f for f in families if all(f.relation(lv) in present for lv in LEVEL_ORDER))
    return out


@asynccontextmanager
async def _without_jit(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """JIT off for the refresh, restored after (the connection is the caller's). The recompute statements
    read raw rows through views, and on the full edition through real-time continuous aggregates stacked on
    each other and compressed chunks: their cost estimates run into the millions whatever the range, far
    above jit_above_cost, and compiling them took 1.4 s per refresh call that then ran in milliseconds
    (10 late labels: 67 s with JIT, 1.2 s without, on 2.19.3 with half of four weeks compressed; bench/
    results/compression.md). Nothing here runs long enough on one call to win the compile time back."""
    before = await conn.fetchval("SELECT current_setting('jit')")
    await conn.execute("SELECT set_config('jit', 'off', false)")
    try:
        yield
    finally:
        await conn.execute("SELECT set_config('jit', $1, false)", before)


async def refresh(uow: UnitOfWork, *, budget: timedelta = DEFAULT_BUDGET) -> RefreshReport:
    """Bring every window relation up to date with the writes recorded so far; returns what it did.

    Safe to call from several processes at once and idempotent. Records written while it runs are left for
    the next call (so a busy ingest cannot keep it running forever)."""
    started = time.perf_counter()
    tally = _Tally()
    conn = uow.conn
    if conn.is_in_transaction():
        raise RuntimeError("refresh commits range by range: call it outside a transaction")
    license_ = await conn.fetchval("SELECT current_setting('timescaledb.license', true)") or "apache"
    rollups = await present_rollups(conn)
    cagg_done: set[str] = set()
    async with _without_jit(conn):
        # First the deferred labels: the minutes they touch are recorded before the cutoff, so this refresh
        # brings them into the windows.
        labels_applied, failed = await apply_pending_labels(conn)
        tally.failed.extend(failed)
        cutoff = await conn.fetchval("SELECT clock_timestamp()")
        groups = await conn.fetch(
            "SELECT DISTINCT kind, model_id FROM window_invalidations WHERE created_at <= $1 ORDER BY 1, 2",
            cutoff,
        )
        for g in groups:
            family = FAMILIES[g["kind"]]
            # One group's failure (a row the rollup cannot hold, a relation in a bad state) must not stop the
            # others: its transaction rolled back, its records stay pending, the report names it.
            try:
                if family is not FEATURES and await is_continuous_aggregate(conn, family.relation("1m")):
                    if family.kind not in cagg_done:
                        cagg_done.add(family.kind)
                        await _refresh_cagg_kind(conn, family, cutoff, tally, rollups.get(family.kind, ()))
                    continue
                await _refresh_table_group(
                    conn, family, g["model_id"], cutoff, budget, tally, rollups.get(family.kind, ())
                )
            except asyncpg.PostgresError as exc:
                if conn.is_in_transaction():
                    raise  # not ours to recover: a caller's transaction
                tally.failed.append(f"{family.kind} model {g['model_id']}: {type(exc).__name__}: {str(exc)[:200]}")
                log.warning("refresh of %s for model %s failed, retried next time: %s", family.kind, g["model_id"], exc)
    return RefreshReport(
        edition=license_,
        groups=tally.groups,
        records=tally.records,
        minutes=tally.minutes,
        rows_written=tally.rows,
        skipped_locked=tally.skipped,
        seconds=time.perf_counter() - started,
        failed=tuple(tally.failed),
        labels_applied=labels_applied,
    )
