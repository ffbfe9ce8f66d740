"""Writing a batch of labels onto stored predictions, compressed or not, touching only what it labels.

1. The batch is copied into a temporary stage and each row is resolved to the time of the prediction it
   labels: the client's `time` when it sent one, else `prediction_times` (kept uncompressed, by id). No
   statement ever looks a prediction up by id alone in `predictions`: on the full edition that would
   decompress every compressed row of the model.
2. The resolved times are split into groups (`engine.ingest.bounds`): per uncompressed chunk, and per run of
   nearby targets within a compressed one.
3. One UPDATE per group, bounded by the group's times, each planned for its values (force_custom_plan): the
   bounds are constants, so the planner excludes every other chunk and TimescaleDB decompresses only the
   compressed batches overlapping them (the decompression limit is lifted for these statements, which are
   bounded by construction). In a compressed chunk the planner's statistics know nothing of the rows the
   statement itself decompresses, so nested loops are ruled out there (a nested loop over a chunk
   estimated empty is the plan it otherwise picks, and it rescans the targets for every decompressed row).
The settings are restored afterwards: the caller's transaction may go on.

Before step 3, the targets that lie in a compressed chunk and are known to be stored (found in
`prediction_times`) are not applied but deferred: upserted into `pending_labels` (migration 0014) and
acknowledged, durably, in the same transaction. An UPDATE there would decompress the whole compressed batch
(up to 1,000 rows) around each label, which made sparse label batches 7-23x as expensive per label as into
uncompressed history; the refresher applies the pending labels of a model with one UPDATE per run of
nearby times (`dl_apply_pending_labels`) before it derives windows, so every label that arrived for a range
since the last refresh shares one decompression. Until then reads of labels from raw rows go through
`predictions_labelled`. A target resolved only by the client's `time` (older than the label horizon) is
not known to exist, and is still applied in place: its UPDATE is what tells whether it matched.
A label applied in place drops any older pending label of the same prediction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg

from engine.ingest.bounds import DEFAULT_GAP, ChunkRange, TimeGroup, time_groups
from engine.ingest.labels import STAGE_COLUMNS
from engine.store.sqlfiles import query

# Every label UPDATE is planned for its own time bounds; the decompression it causes is bounded by them.
PER_VALUE_PLANS = {
    "plan_cache_mode": "force_custom_plan",
    "timescaledb.max_tuples_decompressed_per_dml_transaction": "0",
}
WHOLE_CHUNKS = timedelta.max  # as a gap: one time group per chunk


@asynccontextmanager
async def local_settings(conn: asyncpg.Connection, settings: dict[str, str]) -> AsyncIterator[None]:
    """`settings` for the statements inside the block, as SET LOCAL, then back to what they were. On an
    error nothing is restored here: the transaction (or savepoint) that fails undoes SET LOCAL itself, and
    a statement on its connection would only hide the error."""
    before = {name: await conn.fetchval("SELECT current_setting($1, true)", name) for name in settings}
    for name, value in settings.items():
        await conn.execute("SELECT set_config($1, $2, true)", name, value)
    yield
    for name, old in before.items():
        await conn.execute("SELECT set_config($1, $2, true)", name, old or "")


async def resolve_groups(conn: asyncpg.Connection, gap: timedelta = DEFAULT_GAP) -> list[TimeGroup]:
    """The time groups of the resolved targets in `label_targets` (with `gap` = the chunk interval or more:
    one group per chunk)."""
    times = [r[0] for r in await conn.fetch(query("ingest.label_target_times"))]
    if not times:
        return []
    chunks = [
        ChunkRange(r["range_start"], r["range_end"], r["is_compressed"])
        for r in await conn.fetch(query("ingest.prediction_chunks"), times[0], times[-1])
    ]
    return time_groups(times, chunks, gap)


async def apply_labels(conn: asyncpg.Connection, model_id: int, records: Sequence[tuple[object, ...]]) -> set[int]:
    """Label the stored predictions named by `records` (`labels.label_records`); returns the row indexes
    that labelled at least one. Runs in the caller's transaction."""
    await conn.execute(query("ingest.create_labels_stage"))
    await conn.execute("TRUNCATE labels_stage, label_targets, labels_matched")
    await conn.copy_records_to_table("labels_stage", records=records, columns=STAGE_COLUMNS)
    await conn.execute(query("ingest.resolve_label_targets"), model_id)
    deferred = [g for g in await resolve_groups(conn, WHOLE_CHUNKS) if g.compressed]
    if deferred:
        await conn.execute(
            query("ingest.defer_labels"), model_id, [g.lo for g in deferred], [g.hi for g in deferred]
        )
    groups = await resolve_groups(conn)  # what is left: targets in uncompressed chunks, or not known to exist
    if not groups:
        return {r[0] for r in await conn.fetch(query("ingest.select_labels_matched"))}
    if await conn.fetchval(query("ingest.has_pending_labels"), model_id):
        await conn.execute(query("ingest.drop_superseded_pending"), model_id)
    await conn.execute("ANALYZE label_targets")
    apply = query("ingest.apply_labels")
    async with local_settings(conn, PER_VALUE_PLANS):
        plain = [(model_id, g.lo, g.hi) for g in groups if not g.compressed]
        if plain:
            await conn.executemany(apply, plain)
        compressed = [(model_id, g.lo, g.hi) for g in groups if g.compressed]
        if compressed:
            async with local_settings(conn, {"enable_nestloop": "off"}):
                await conn.executemany(apply, compressed)
    return {r[0] for r in await conn.fetch(query("ingest.select_labels_matched"))}
