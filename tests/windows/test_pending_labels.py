"""Labels into compressed history wait in `pending_labels` and the refresher applies them (migration 0014):
a crash in the middle of an apply loses and doubles nothing, the last label sent wins whichever path each
took, a label for a prediction deleted meanwhile is dropped, and the windows equal the raw-row oracle after
the refresh. The full-edition cases need DRIFTLINE_FULL_TEST_DATABASE_URL (tests/windows/conftest.py); the
SQL-level case (a pending label written by hand) runs on both editions."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest

from engine.ingest.service import IngestService
from engine.services.predictions import PredictionService
from engine.services.windows import WindowsService
from engine.store.unit import unit_from_pool
from tests.conftest import _with_db, refresh_windows
from tests.windows.conftest import ENV
from tests.windows.streams import PRED_COLUMNS, create_model, raw_predictions
from tests.windows.test_compressed_history import bulk_rows
from tests.windows.test_metrics_oracle import check_series

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 2, tzinfo=UTC)
# A refresher in a process of its own, as the worker runs it; killed with SIGKILL by the test.
REFRESHER = """
import asyncio, sys, asyncpg
from engine.rollups.refresher import refresh
from engine.store.unit import UnitOfWork
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    await refresh(UnitOfWork(conn))
asyncio.run(main())
"""


async def _labels(conn: asyncpg.Connection, model_id: int, ids: list[str]) -> dict[str, str | None]:
    rows = await conn.fetch("SELECT prediction_id, label_class FROM predictions WHERE model_id = $1"
                            " AND prediction_id = ANY($2::text[])", model_id, ids)
    return {r["prediction_id"]: r["label_class"] for r in rows}


async def _log(pool: asyncpg.Pool, model: str, rows: list[dict[str, Any]]) -> int:
    async with unit_from_pool(pool) as uow:
        return (await IngestService(uow).log_labels(model, rows)).written


@pytest.mark.full_edition
async def test_pending_labels_survive_a_killed_refresher_and_keep_the_last_write(full_pool: asyncpg.Pool) -> None:
    rng = np.random.default_rng(14)
    async with full_pool.acquire() as conn:
        m = await create_model(conn, "churn", "binary", ["stay", "churn"])
        rows = bulk_rows(rng, m, 3 * 6_000, START, 3 * 86400, "c", labeled=0.1)
        await conn.copy_records_to_table("predictions", records=rows, columns=PRED_COLUMNS)
    await refresh_windows(full_pool)
    async with full_pool.acquire() as conn:
        await conn.execute("SELECT compress_chunk(c) FROM show_chunks('predictions', older_than => $1::timestamptz) c",
                           START + timedelta(days=2))
        unlabeled = await conn.fetch("SELECT prediction_id, time FROM predictions WHERE label_time IS NULL"
                                     " AND time < $1 ORDER BY time", START + timedelta(days=2))
    day0 = [r["prediction_id"] for r in unlabeled if r["time"] < START + timedelta(days=1)][::50]
    day1 = [r["prediction_id"] for r in unlabeled if r["time"] >= START + timedelta(days=1)][::50]
    assert len(day0) > 50 and len(day1) > 50
    first = {pid: ("churn" if k % 3 else "stay") for k, pid in enumerate(day0 + day1)}
    assert await _log(full_pool, "churn", [{"prediction_id": p, "label": v} for p, v in first.items()]) == len(first)
    async with full_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pending_labels") == len(first)
        assert set((await _labels(conn, m.id, list(first))).values()) == {None}

    # Sent again before any refresh: the newer label replaces the pending one (still pending).
    relabel = day0[:10]
    assert await _log(full_pool, "churn", [{"prediction_id": p, "label": "stay"} for p in relabel]) == 10
    # Day 1 is decompressed meanwhile: a newer label there is applied at once and drops the pending one.
    async with full_pool.acquire() as conn:
        await conn.execute("SELECT decompress_chunk(c) FROM show_chunks('predictions', older_than => $1::timestamptz,"
                           " newer_than => $2::timestamptz) c", START + timedelta(days=2), START + timedelta(days=1))
    direct = day1[:10]
    assert await _log(full_pool, "churn", [{"prediction_id": p, "label": "churn"} for p in direct]) == 10
    # A prediction with a pending label is deleted: the label goes nowhere.
    gone = day0[-1]
    async with unit_from_pool(full_pool) as uow:
        assert (await PredictionService(uow).delete("churn", ids=[gone])).deleted == 1
    expected = first | dict.fromkeys(relabel, "stay") | dict.fromkeys(direct, "churn")
    del expected[gone]
    async with full_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pending_labels") == len(first) - len(direct)
        seen = await conn.fetch("SELECT prediction_id, label_class FROM predictions_labelled WHERE model_id = $1"
                                " AND prediction_id = ANY($2::text[])", m.id, list(first))
        assert {r["prediction_id"]: r["label_class"] for r in seen} == expected

    # A refresher process is killed (SIGKILL) in the middle of the apply: day 0's UPDATE has run, day 1's
    # waits for a row lock this test holds. Its transaction never commits: nothing is lost or applied twice.
    async with full_pool.acquire() as conn:
        url = _with_db(os.environ[ENV], await conn.fetchval("SELECT current_database()"))
    blocker = await asyncpg.connect(url)
    tr = blocker.transaction()
    await tr.start()
    await blocker.execute("SELECT 1 FROM predictions WHERE model_id = $1 AND prediction_id = $2 AND time >= $3"
                          " FOR UPDATE", m.id, day1[-1], START + timedelta(days=1))
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", REFRESHER, url, cwd=ROOT)
    try:
        pid = None
        for _ in range(600):
            # not on `blocker`: inside its transaction pg_stat_activity would answer the same snapshot
            pid = await full_pool.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%dl_apply_pending%'")
            if pid:
                break
            await asyncio.sleep(0.1)
        assert pid, "the refresher never reached the blocked UPDATE"
        async with full_pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM pending_labels") == len(first) - len(direct)
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        # The server only notices a dead client when it next writes to it; end the orphan like a crash would.
        await blocker.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await tr.rollback()
        await blocker.close()
    async with full_pool.acquire() as conn:
        for _ in range(100):
            if not await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%dl_apply_pending%'"
                                       " AND pid <> pg_backend_pid()"):
                break
            await asyncio.sleep(0.1)
        assert await conn.fetchval("SELECT count(*) FROM pending_labels") == len(first) - len(direct)
        stored = await _labels(conn, m.id, list(first))
        assert {p: v for p, v in stored.items() if v is not None} == dict.fromkeys(direct, "churn")

    report = await refresh_windows(full_pool)
    assert report.labels_applied == len(first) - len(direct) - 1 and not report.failed
    async with full_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pending_labels") == 0
        assert await _labels(conn, m.id, list(first)) == expected
        raw = await raw_predictions(conn, m.id)
    async with unit_from_pool(full_pool) as uow:
        svc = WindowsService(uow)
        for level in ("1m", "1h", "1d"):
            lo, hi = (START, START + timedelta(days=3)) if level != "1m" else (START + timedelta(hours=20),
                                                                                START + timedelta(hours=28))
            day_rows = [r for r in raw if lo <= r["time"] < hi]
            assert check_series(m, await svc.model_metrics("churn", lo, hi, granularity=level), day_rows, level) > 10


async def test_a_pending_label_written_in_sql_is_read_and_applied(pool: asyncpg.Pool) -> None:
    """Both editions: `pending_labels` is the same table everywhere (SQL users may write it); a pending
    label shows in `predictions_labelled` at once and in the windows after the refresh applies it."""
    rng = np.random.default_rng(7)
    async with pool.acquire() as conn:
        m = await create_model(conn, "credit", "binary", ["good", "bad"])
        rows = bulk_rows(rng, m, 2_000, START, 86400, "k", labeled=0.3)
        await conn.copy_records_to_table("predictions", records=rows, columns=PRED_COLUMNS)
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        targets = await conn.fetch("SELECT prediction_id, time FROM predictions WHERE label_time IS NULL"
                                   " ORDER BY time LIMIT 300")
        await conn.executemany("INSERT INTO pending_labels (model_id, prediction_id, time, label_class, label_time)"
                               " VALUES ($1, $2, $3::timestamptz, 'bad', $3::timestamptz + interval '1 day')",
                               [(m.id, r["prediction_id"], r["time"]) for r in targets])
        assert await conn.fetchval("SELECT count(*) FROM predictions_labelled WHERE label_class = 'bad'"
                                   " AND prediction_id = ANY($1::text[])", [r["prediction_id"] for r in targets]) == 300
    report = await refresh_windows(pool)
    assert report.labels_applied == 300
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pending_labels") == 0
        raw = await raw_predictions(conn, m.id)
    assert sum(r["prediction_id"] in {t["prediction_id"] for t in targets} and r["label_class"] == "bad"
               for r in raw) == 300
    async with unit_from_pool(pool) as uow:
        series = await WindowsService(uow).model_metrics("credit", START, START + timedelta(days=1), granularity="1h")
    assert check_series(m, series, raw, "1h") > 100
