"""Apache-edition rollups: refresh from the invalidation record, cascade, idempotency, concurrency.

These run on whatever edition the test cluster has; on the Apache edition (this machine) predictions_* and
metrics_* are engine-maintained tables."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import numpy as np
import pytest

from engine.rollups.refresher import is_continuous_aggregate
from engine.windows.spec import METRICS, PREDICTIONS
from tests.conftest import refresh_windows
from tests.windows.helpers import assert_same_rows, merged_rows, relation_rows, source_rows
from tests.windows.streams import (
    T0,
    copy_predictions,
    create_model,
    insert_predictions,
    label_late,
    prediction_rows,
)

pytestmark = pytest.mark.asyncio


async def _apache(conn: asyncpg.Connection) -> None:
    if await is_continuous_aggregate(conn, "predictions_1m"):
        pytest.skip("the test cluster runs the full edition: predictions_* are continuous aggregates")


async def _stream(pool: asyncpg.Pool, seed: int) -> None:
    """Binary, multiclass and regression models; rows arrive by COPY and INSERT, out of order, some of
    them late (hours before the newest), labels later in bulk UPDATEs."""
    rng = np.random.default_rng(seed)
    async with pool.acquire() as conn:
        models = [
            await create_model(conn, "bin", "binary", ["neg", "pos"], threshold=0.4),
            await create_model(conn, "multi", "multiclass", ["a", "b", "c"]),
            await create_model(conn, "reg", "regression", dims=("region", "tier")),
        ]
        for m in models:
            rows = prediction_rows(rng, m, 1500, minutes=240, labeled=0.2)
            await copy_predictions(conn, rows[:1000])
            await insert_predictions(conn, rows[1000:1200])
            # late batch: older than everything so far, out of order
            late = prediction_rows(rng, m, 300, start=T0 - timedelta(hours=30), minutes=90, id_prefix="late")
            await copy_predictions(conn, late)
            await label_late(conn, rng, m, 0.6)
            await copy_predictions(conn, rows[1200:])


async def test_refresh_matches_raw_and_cascades(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await _apache(conn)
    await _stream(pool, 1)
    report = await refresh_windows(pool)
    assert report.records > 0 and report.minutes > 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM window_invalidations") == 0
        for family in (PREDICTIONS,):
            m1 = await relation_rows(conn, family, "1m")
            assert len(m1) > 100
            assert_same_rows(m1, await source_rows(conn, family), "1m vs raw")
            assert_same_rows(
                await relation_rows(conn, family, "1h"),
                await merged_rows(conn, family, "1m", "1 hour"),
                "1h vs merged 1m",
            )
            assert_same_rows(
                await relation_rows(conn, family, "1d"),
                await merged_rows(conn, family, "1h", "1 day"),
                "1d vs merged 1h",
            )
            assert_same_rows(
                await relation_rows(conn, family, "1d"),
                await merged_rows(conn, family, "1m", "1 day"),
                "1d vs merged 1m",
            )
        before = {lvl: await relation_rows(conn, PREDICTIONS, lvl) for lvl in ("1m", "1h", "1d")}
    again = await refresh_windows(pool)
    assert again.records == 0
    async with pool.acquire() as conn:
        for lvl in ("1m", "1h", "1d"):
            assert_same_rows(
                await relation_rows(conn, PREDICTIONS, lvl), before[lvl], f"second refresh {lvl}"
            )


async def test_recompute_is_idempotent_when_ranges_come_back(pool: asyncpg.Pool) -> None:
    """Re-recording already refreshed ranges (as a crashed-then-retried refresher would) changes nothing."""
    async with pool.acquire() as conn:
        await _apache(conn)
    await _stream(pool, 2)
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        before = await relation_rows(conn, PREDICTIONS, "1h")
        await conn.execute(
            "INSERT INTO window_invalidations (kind, model_id, lo, hi) SELECT 'predictions', id, $1, $2 FROM models",
            T0 - timedelta(days=2),
            T0 + timedelta(days=1),
        )
    report = await refresh_windows(pool, budget=timedelta(hours=5))  # several transactions per model
    assert report.minutes >= 3 * 72 * 60
    async with pool.acquire() as conn:
        assert_same_rows(await relation_rows(conn, PREDICTIONS, "1h"), before, "after re-refresh")


async def test_two_concurrent_refreshers_agree(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await _apache(conn)
    await _stream(pool, 3)
    reports = await asyncio.gather(
        refresh_windows(pool, budget=timedelta(minutes=30)), refresh_windows(pool, budget=timedelta(minutes=30))
    )
    assert sum(r.records for r in reports) > 0
    await refresh_windows(pool)  # whatever one skipped because the other held it is done by now
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM window_invalidations") == 0
        assert_same_rows(
            await relation_rows(conn, PREDICTIONS, "1m"), await source_rows(conn, PREDICTIONS), "1m"
        )
        assert_same_rows(
            await relation_rows(conn, PREDICTIONS, "1d"),
            await merged_rows(conn, PREDICTIONS, "1m", "1 day"),
            "1d",
        )


async def test_concurrent_ingest_and_refresh_lose_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await _apache(conn)
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
    rng = np.random.default_rng(4)
    batches = [prediction_rows(rng, m, 400, minutes=120, labeled=0.5, id_prefix=f"b{i}-") for i in range(8)]

    async def ingest() -> None:
        for b in batches:
            async with pool.acquire() as conn:
                await copy_predictions(conn, b)
            await asyncio.sleep(0)

    async def refresher() -> None:
        for _ in range(8):
            await refresh_windows(pool)
            await asyncio.sleep(0.01)

    await asyncio.gather(ingest(), refresher(), refresher())
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT sum(n) FROM predictions_1d") == 8 * 400
        assert_same_rows(
            await relation_rows(conn, PREDICTIONS, "1m"), await source_rows(conn, PREDICTIONS), "1m"
        )


async def test_psql_style_writes_and_deletes_are_picked_up(pool: asyncpg.Pool) -> None:
    """Both editions. Inserts and updates written in SQL are recorded by the statement-level triggers. A
    DELETE is recorded by a trigger only on the Apache edition (TimescaleDB refuses DELETE triggers on
    compressed hypertables), so SQL deletes go through the documented functions: dl_delete_predictions, or
    a DELETE followed by dl_invalidate in the same transaction."""
    async with pool.acquire() as conn:
        cagg = await is_continuous_aggregate(conn, "predictions_1m")
        m = await create_model(conn, "reg", "regression")
        vid = m.versions["v1"]
        await conn.execute(
            "INSERT INTO predictions (time, model_id, version_id, prediction_id, predicted_value, label_value)"
            " SELECT $1::timestamptz + i * interval '7 seconds', $2, $3, 'q' || i, i, i + 1"
            " FROM generate_series(1, 1000) i",
            T0,
            m.id,
            vid,
        )
        await refresh_windows(pool)
        assert await conn.fetchval("SELECT sum(n) FROM predictions_1h WHERE model_id = $1", m.id) == 1000
        await conn.execute("UPDATE predictions SET label_value = NULL WHERE model_id = $1 AND prediction_id LIKE 'q2%'", m.id)
        assert await conn.fetchval("SELECT dl_delete_predictions('reg', p_ids => ARRAY['q1', 'q10', 'q100'])") == 3
        async with conn.transaction():
            span = await conn.fetchrow(
                "WITH d AS (DELETE FROM predictions WHERE model_id = $1 AND prediction_id LIKE 'q1%' RETURNING time)"
                " SELECT min(time) AS lo, max(time) AS hi FROM d", m.id)
            await conn.execute("SELECT dl_invalidate('predictions', $1, $2, $3)", m.id, span["lo"],
                               span["hi"] + timedelta(microseconds=1))
        await refresh_windows(pool)
        remaining = await conn.fetchval("SELECT count(*) FROM predictions WHERE model_id = $1", m.id)
        labelled = await conn.fetchval(
            "SELECT count(*) FROM predictions WHERE model_id = $1 AND label_value IS NOT NULL", m.id)
        assert remaining == 1000 - 112 and labelled == remaining - 111  # q1, q10…q19, q100…q199, q1000
        for level in ("1m", "1h", "1d"):
            row = await conn.fetchrow(
                f"SELECT sum(n) AS n, sum(reg_n) AS reg_n FROM predictions_{level} WHERE model_id = $1", m.id)
            assert (row["n"], row["reg_n"]) == (remaining, labelled), level
        if cagg:
            return
        # Apache edition: a plain DELETE is seen by the trigger alone.
        await conn.execute("DELETE FROM predictions WHERE model_id = $1 AND prediction_id LIKE 'q3%'", m.id)
        await refresh_windows(pool)
        remaining = await conn.fetchval("SELECT count(*) FROM predictions WHERE model_id = $1", m.id)
        assert await conn.fetchval("SELECT sum(n) FROM predictions_1d WHERE model_id = $1", m.id) == remaining


async def test_report_counts_minutes_per_model(pool: asyncpg.Pool) -> None:
    """Both editions count the minutes brought up to date per (kind, model), even where a continuous
    aggregate refreshes the union of the models' ranges in one call."""
    async with pool.acquire() as conn:
        a = await create_model(conn, "a", "regression")
        b = await create_model(conn, "b", "regression")
        for m, minutes in ((a, 30), (b, 90)):  # b's first 30 minutes are the same as a's
            await conn.execute(
                "INSERT INTO predictions (time, model_id, version_id, prediction_id, predicted_value)"
                " SELECT $1::timestamptz + i * interval '1 minute', $2, $3, 'r' || i, i FROM generate_series(0, $4 - 1) i",
                T0, m.id, m.versions["v1"], minutes)
    report = await refresh_windows(pool)
    assert report.minutes == 30 + 90 and report.groups == 2


async def test_custom_metrics_rollup(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await _apache(conn)
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        rng = np.random.default_rng(5)
        n = 3000
        times = [T0 + timedelta(seconds=float(s)) for s in rng.uniform(0, 5 * 3600, n)]
        values = rng.normal(100, 15, n)
        names = rng.choice(["cost", "cpu"], n)
        tags = rng.choice([json.dumps({"env": "prod"}), json.dumps({"env": "dev"}), None], n)
        model_ids = [m.id if rng.random() < 0.7 else None for _ in range(n)]
        await conn.copy_records_to_table(
            "metrics",
            records=list(zip(times, model_ids, names.tolist(), values.tolist(), tags.tolist(), strict=True)),
            columns=["time", "model_id", "name", "value", "tags"],
        )
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        assert_same_rows(
            await relation_rows(conn, METRICS, "1m"), await source_rows(conn, METRICS), "metrics 1m"
        )
        assert_same_rows(
            await relation_rows(conn, METRICS, "1d"),
            await merged_rows(conn, METRICS, "1m", "1 day"),
            "metrics 1d",
        )
        total = await conn.fetchrow(
            "SELECT sum(n) AS n, sum(value_sum) AS s, max(value_max) AS mx FROM metrics_1d"
        )
    assert total["n"] == n
    assert total["s"] == pytest.approx(float(values.sum()), rel=1e-12)
    assert total["mx"] == float(values.max())
