"""Services run on the caller's unit of work and nothing else: on a pool of exactly one connection, held by
the unit, every service call completes (a service that reached into the pool behind its caller's back would
wait for a connection that never comes). A piece of work can ingest, read the windows it just wrote and
roll all of it back in one transaction; only a granted spare lets a long read use a second connection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

import numpy as np
import pytest

import engine.store.window_reads as window_reads
from engine.ingest.service import IngestService
from engine.rollups.refresher import refresh
from engine.services.models import ModelService
from engine.services.retention import apply_retention
from engine.services.store import StoreService
from engine.services.windows import WindowsService
from engine.store.db import create_pool
from engine.store.unit import unit_from_pool
from tests.ingest.support import T0, binary_model, binary_rows, register_all

T = TypeVar("T")
SPAN = (T0 - timedelta(days=1), T0 + timedelta(days=4))


async def _within(call: Awaitable[T]) -> T:
    # a second acquire on the exhausted pool would block forever; asyncpg's own acquire has no timeout
    return await asyncio.wait_for(call, timeout=60)


async def test_every_service_completes_on_a_single_connection(db_url: str) -> None:
    pool = await create_pool(db_url, min_size=1, max_size=1)
    try:
        async with unit_from_pool(pool, share=False) as uow:
            await _within(ModelService(uow).create_model(binary_model()))
            models = ModelService(uow)
            await _within(models.create_version("churn", "v1", "production"))
            assert [m.name for m in await _within(models.list_models())] == ["churn"]
            ingest = IngestService(uow)
            rows = binary_rows(np.random.default_rng(5), 600)
            assert (await _within(ingest.log_predictions("churn", rows))).written == 600
            labels = [{"prediction_id": r["prediction_id"], "label": "churn"} for r in rows[:50]]
            assert (await _within(ingest.log_labels("churn", labels))).written == 50
            metric = [{"name": "cost", "value": 1.5, "time": T0.isoformat(), "tags": {"team": "a"}}]
            assert (await _within(ingest.log_metrics(metric, model_name="churn"))).written == 1
            windows = WindowsService(uow)
            # 1m over 5 days: long enough to be split if a spare connection had been granted
            series = await _within(windows.model_metrics("churn", *SPAN, granularity="1m", metrics=["count"]))
            assert sum(p.values["count"] or 0 for p in series.points) == 600
            custom = await _within(windows.custom_metrics("cost", *SPAN, model="churn", group_by="team"))
            assert [(p.group, p.count, p.sum) for p in custom.points] == [("a", 1, 1.5)]
            await _within(windows.feature_histograms("churn", *SPAN))
            await _within(refresh(uow))
            await _within(apply_retention(uow, "3650 days"))
            store = StoreService(uow)
            assert (await _within(store.edition())).license in ("apache", "timescale")
            await _within(store.rejected("churn"))
            again = await _within(windows.model_metrics("churn", *SPAN, granularity="1m", metrics=["count"]))
            assert again.points == series.points
    finally:
        await pool.close()


async def test_ingest_read_and_roll_back_in_one_transaction(db_url: str) -> None:
    """A job's unit of work writes, reads what it wrote through the windows (its own uncommitted rows: the
    read joins the open transaction instead of taking a snapshot of its own) and rolls everything back."""
    pool = await create_pool(db_url, min_size=1, max_size=2)
    try:
        await register_all(pool)
        async with unit_from_pool(pool) as uow:
            with pytest.raises(RuntimeError, match="roll back"):
                async with uow.transaction():
                    await IngestService(uow).log_predictions("churn", binary_rows(np.random.default_rng(6), 300))
                    series = await WindowsService(uow).model_metrics("churn", *SPAN, metrics=["count"])
                    assert sum(p.values["count"] or 0 for p in series.points) == 300
                    raise RuntimeError("roll back")
            series = await WindowsService(uow).model_metrics("churn", *SPAN, metrics=["count"])
            assert series.points == ()
        assert await pool.fetchval("SELECT count(*) FROM predictions") == 0
        assert await pool.fetchval("SELECT count(*) FROM window_invalidations") == 0
    finally:
        await pool.close()


async def test_a_long_read_borrows_only_a_granted_spare(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = await create_pool(db_url, min_size=1, max_size=2)
    borrowed: list[int] = []
    real_fetch = window_reads.fetch_window_rows

    async def counting_fetch(conn, read):  # type: ignore[no-untyped-def]
        borrowed.append(id(conn))
        return await real_fetch(conn, read)

    monkeypatch.setattr(window_reads, "fetch_window_rows", counting_fetch)
    try:
        await register_all(pool)
        async with unit_from_pool(pool) as uow:
            await IngestService(uow).log_predictions("churn", binary_rows(np.random.default_rng(7), 300))
        for share, connections in ((False, 1), (True, 2)):
            borrowed.clear()
            async with unit_from_pool(pool, share=share) as uow:
                series = await WindowsService(uow).model_metrics("churn", *SPAN, granularity="1m", metrics=["count"])
            assert sum(p.values["count"] or 0 for p in series.points) == 300
            assert len(set(borrowed)) == connections, (share, borrowed)
    finally:
        await pool.close()
