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
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from engine.ingest.bounds import ChunkRange, TimeGroup, time_groups
from engine.ingest.labels import STAGE_COLUMNS
from engine.store.sqlfiles import query

# Every label UPDATE is planned for its own time bounds; the decompression it causes is bounded by them.
PER_VALUE_PLANS = {
    "plan_cache_mode": "force_custom_plan",
    "timescaledb.max_tuples_decompressed_per_dml_transaction": "0",
}


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


async def resolve_groups(conn: asyncpg.Connection) -> list[TimeGroup]:
    """The time groups of the resolved targets in `label_targets`."""
    times = [r[0] for r in await conn.fetch(query("ingest.label_target_times"))]
    if not times:
        return []
    chunks = [
        ChunkRange(r["range_start"], r["range_end"], r["is_compressed"])
        for r in await conn.fetch(query("ingest.prediction_chunks"), times[0], times[-1])
    ]
    return time_groups(times, chunks)


async def apply_labels(conn: asyncpg.Connection, model_id: int, records: Sequence[tuple[object, ...]]) -> set[int]:
    """Label the stored predictions named by `records` (`labels.label_records`); returns the row indexes
    that labelled at least one. Runs in the caller's transaction."""
    await conn.execute(query("ingest.create_labels_stage"))
    await conn.execute("TRUNCATE labels_stage, label_targets, labels_matched")
    await conn.copy_records_to_table("labels_stage", records=records, columns=STAGE_COLUMNS)
    await conn.execute(query("ingest.resolve_label_targets"), model_id)
    groups = await resolve_groups(conn)
    if not groups:
        return set()
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
