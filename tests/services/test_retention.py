from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from engine.services.retention import apply_retention
from engine.store.db import detect_edition
from engine.store.unit import UnitOfWork


async def test_retention_drops_only_chunks_older_than_the_interval(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    now = datetime.now(UTC)
    times = [now - timedelta(days=d) for d in (0, 1, 10, 40, 41, 90)]
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "metrics", records=[(t, None, "m", float(i), None) for i, t in enumerate(times)],
            columns=("time", "model_id", "name", "value", "tags"),
        )
    async with pool.acquire() as conn:
        edition = await detect_edition(conn)
    report = await apply_retention(uow, "30 days")
    async with pool.acquire() as conn:
        kept = sorted(r["value"] for r in await conn.fetch("SELECT value FROM metrics"))
    if edition.license == "timescale":
        # The full edition's retention policy (installed by the migration when configured) does this job.
        assert report.skipped_reason and "job scheduler" in report.skipped_reason
        assert kept == [float(i) for i in range(len(times))]
        return
    assert report.skipped_reason is None
    # Daily chunks: everything older than 30 days (plus the chunk boundary) is gone, the rest is intact.
    assert kept == [0.0, 1.0, 2.0]
    assert report.dropped_chunks["metrics"] == 3


async def test_no_retention_configured_changes_nothing(uow: UnitOfWork) -> None:
    report = await apply_retention(uow, None)
    assert report.dropped_chunks == {} and report.skipped_reason
