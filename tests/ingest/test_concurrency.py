"""Concurrent ingests of overlapping batches: every id stored exactly once, nothing lost."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import numpy as np

from engine.domain import ModelSpec
from engine.ingest.service import IngestService
from engine.store.db import create_pool
from engine.store.unit import unit_from_pool
from tests.ingest.support import binary_rows


def _overlapping_batches(seed: int, universe: int, k: int, size: int) -> tuple[list[dict[str, object]], list[list[int]]]:
    rng = np.random.default_rng(seed)
    rows = binary_rows(rng, universe)
    # Each batch a random subset in random order: overlaps both in content and in insertion order.
    picks = [rng.choice(universe, size=size, replace=False).tolist() for _ in range(k)]
    return rows, picks


async def _check(pool: asyncpg.Pool, rows: list[dict[str, object]], picks: list[list[int]], results: list) -> None:
    union = {str(rows[i]["prediction_id"]) for p in picks for i in p}
    assert await pool.fetchval("SELECT count(*) FROM predictions") == len(union)
    assert await pool.fetchval(
        "SELECT count(*) FROM (SELECT prediction_id FROM predictions GROUP BY 1 HAVING count(*) > 1) d") == 0
    assert {r["prediction_id"] for r in await pool.fetch("SELECT prediction_id FROM predictions")} == union
    assert sum(r.written for r in results) == len(union)
    for r, p in zip(results, picks, strict=True):
        assert r.written + r.duplicates == len(p)


async def _log_on_own_unit(pool: asyncpg.Pool, rows: list[dict[str, object]], key: str | None = None) -> Any:
    async with unit_from_pool(pool) as uow:  # one unit of work per concurrent request, as the API does
        return await IngestService(uow).log_predictions("churn", rows, idempotency_key=key)


async def test_concurrent_overlapping_batches_on_one_pool(pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    for round_ in range(3):
        await pool.execute("TRUNCATE predictions")
        rows, picks = _overlapping_batches(50 + round_, 800, 8, 300)
        results = await asyncio.gather(*(_log_on_own_unit(pool, [rows[i] for i in p]) for p in picks))
        await _check(pool, rows, picks, list(results))


async def test_concurrent_overlapping_batches_on_separate_connections(
    db_url: str, pool: asyncpg.Pool, models: dict[str, ModelSpec]
) -> None:
    pools = [await create_pool(db_url, min_size=1, max_size=1) for _ in range(4)]
    try:
        for round_ in range(3):
            await pool.execute("TRUNCATE predictions")
            rows, picks = _overlapping_batches(60 + round_, 600, 4, 350)
            results = await asyncio.gather(*(
                _log_on_own_unit(own, [rows[i] for i in p]) for own, p in zip(pools, picks, strict=True)
            ))
            await _check(pool, rows, picks, list(results))
    finally:
        for p in pools:
            await p.close()


async def test_concurrent_same_idempotency_key_writes_once(pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    rows = binary_rows(np.random.default_rng(70), 200)
    results = await asyncio.gather(*(_log_on_own_unit(pool, rows, key="same") for _ in range(5)))
    assert sorted(r.replayed for r in results) == [False, True, True, True, True]
    assert all(r.written == 200 for r in results)
    assert await pool.fetchval("SELECT count(*) FROM predictions") == 200
