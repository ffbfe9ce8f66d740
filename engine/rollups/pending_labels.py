"""Applying the labels that wait in `pending_labels` (migration 0014) before windows are derived.

Label ingest defers a label whose prediction lies in a compressed chunk (engine/ingest/label_writes.py):
an UPDATE there decompresses the whole compressed batch around each label. `apply_pending_labels` runs at
the start of every refresh, so the labels of a range that arrived since the last refresh share one
decompression: per model, one transaction calling `dl_apply_pending_labels`, which takes the model's pending
rows out, applies them with one UPDATE per run of nearby times and lets the UPDATE triggers record the
touched minutes, which the same refresh then brings into the windows. A crash or an error rolls the
model's transaction back and leaves its labels pending for the next call.
"""

from __future__ import annotations

import logging

import asyncpg

log = logging.getLogger("driftline.rollups")

PENDING_MODELS = """
SELECT coalesce(array_agg(DISTINCT model_id ORDER BY model_id), '{}') FROM pending_labels
"""


async def apply_pending_labels(conn: asyncpg.Connection) -> tuple[int, list[str]]:
    """Apply every model's pending labels, one transaction per model; returns (predictions labelled, the
    models whose apply failed and stays pending). Call outside a transaction."""
    if await conn.fetchval("SELECT to_regclass('pending_labels') IS NULL"):
        return 0, []  # a worker running a newer engine before migration 0014 has run
    applied = 0
    failed: list[str] = []
    for model_id in await conn.fetchval(PENDING_MODELS):
        try:
            async with conn.transaction():
                applied += await conn.fetchval("SELECT dl_apply_pending_labels($1)", model_id)
        except asyncpg.PostgresError as exc:
            failed.append(f"pending labels model {model_id}: {type(exc).__name__}: {str(exc)[:200]}")
            log.warning("applying the pending labels of model %s failed, retried next time: %s", model_id, exc)
    return applied, failed
