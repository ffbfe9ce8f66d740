"""`predictions_by_version_<level>` / `predictions_by_model_<level>`: the prediction windows with the
declared segments (and versions) merged.

On any edition: after a refresh each level equals `predictions_<level>` summed over segments (and versions;
computed here from that relation with the family's merge rules) and the raw rows summed the same way; late data and
late labels keep it so; a second refresh changes nothing. Migration 0003 on a database that already holds
refreshed windows fills it (Apache: from the rollups; full edition: through the invalidation record), and
downgrading to 0002 removes exactly what it added."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import numpy as np
import pytest
from alembic import command

from engine.services.windows import WindowsService
from engine.store.unit import UnitOfWork, unit_from_pool
from engine.windows.spec import (
    LEVEL_ORDER,
    LEVELS,
    PREDICTIONS,
    PREDICTIONS_BY_MODEL,
    PREDICTIONS_BY_VERSION,
    Family,
    LevelName,
)
from tests.conftest import alembic_config, create_database, drop_database, refresh_windows
from tests.windows.helpers import assert_same_rows, assert_view_row, merge_exprs, order_by, relation_rows
from tests.windows.streams import (
    T0,
    copy_predictions,
    create_model,
    insert_predictions,
    label_late,
    prediction_rows,
    raw_predictions,
)
from tests.windows.test_metrics_oracle import check_series

pytestmark = pytest.mark.asyncio
BV = PREDICTIONS_BY_VERSION
MERGED = (PREDICTIONS_BY_VERSION, PREDICTIONS_BY_MODEL)


async def segment_merge(
    conn: asyncpg.Connection, source: str, width: str, family: Family = BV
) -> list[asyncpg.Record]:
    """`source` (a predictions_* relation or the raw 1m view) merged to (bucket of `width`, the family's
    keys) with the family's merge rules, independently of the migration's SQL."""
    keys = ", ".join(family.keys)
    return await conn.fetch(
        f"SELECT time_bucket('{width}', bucket) AS bucket, {keys}, {', '.join(merge_exprs(family))}"
        f" FROM {source} GROUP BY 1, {keys} ORDER BY {order_by(family)}"
    )


async def assert_consistent(conn: asyncpg.Connection, what: str) -> int:
    rows = 0
    for family in MERGED:
        for level in LEVEL_ORDER:
            got = await relation_rows(conn, family, level)
            width = LEVELS[level].sql_interval
            tag = f"{what}: {family.relation(level)}"
            assert_same_rows(got, await segment_merge(conn, PREDICTIONS.relation(level), width, family), tag)
            assert_same_rows(got, await segment_merge(conn, PREDICTIONS.source("1m"), width, family), f"{tag} raw")
            rows += len(got)
    return rows


async def _stream(pool: asyncpg.Pool, rng: np.random.Generator) -> list:
    async with pool.acquire() as conn:
        models = [
            await create_model(conn, "bin", "binary", ["neg", "pos"], threshold=0.4, dims=("region", "tier")),
            await create_model(conn, "multi", "multiclass", ["a", "b", "c"]),
            await create_model(conn, "reg", "regression", dims=("region",)),
            await create_model(conn, "flat", "binary", ["n", "y"], dims=()),
        ]
        for m in models:
            rows = prediction_rows(rng, m, 1200, minutes=200, labeled=0.3)
            await copy_predictions(conn, rows[:900])
            await insert_predictions(conn, rows[900:])
    return models


async def test_levels_equal_segment_merge_through_late_data(pool: asyncpg.Pool) -> None:
    rng = np.random.default_rng(81)
    models = await _stream(pool, rng)
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        n = await assert_consistent(conn, "first refresh")
        # a model with two dimensions and two versions: fewer rows at each step
        counts = [
            await conn.fetchval(f"SELECT count(*) FROM {rel} WHERE model_id = $1", models[0].id)
            for rel in ("predictions_1m", "predictions_by_version_1m", "predictions_by_model_1m")
        ]
        assert n > 200 and counts[0] > counts[1] > counts[2] > 0, counts
        for m in models:  # late rows (a day back), more rows in the middle, late labels
            await copy_predictions(
                conn, prediction_rows(rng, m, 200, start=T0 - timedelta(hours=25), minutes=90, id_prefix="late")
            )
            await label_late(conn, rng, m, 0.5)
        await conn.execute("DELETE FROM predictions WHERE model_id = $1 AND prediction_id LIKE 'p1%'", models[2].id)
    report = await refresh_windows(pool)
    assert report.records > 0
    async with pool.acquire() as conn:
        await assert_consistent(conn, "after late data")
        before = {(f, lv): await relation_rows(conn, f, lv) for f in MERGED for lv in LEVEL_ORDER}
    assert (await refresh_windows(pool)).records == 0
    async with pool.acquire() as conn:
        for (f, lv), rows in before.items():
            assert_same_rows(await relation_rows(conn, f, lv), rows, f"second refresh {f.relation(lv)}")


async def test_ungrouped_reads_with_many_segments_equal_sklearn(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    """Three dimensions with many values: the default series (read from the segment-merged windows) and
    the per-version one equal scikit-learn on the raw rows, before (pending) and after the refresh."""
    rng = np.random.default_rng(82)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"], dims=("region", "req"), versions=("a", "b", "c"))
        await copy_predictions(conn, prediction_rows(rng, m, 3000, minutes=240, labeled=0.5))
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        await copy_predictions(conn, prediction_rows(rng, m, 300, minutes=240, labeled=0.5, id_prefix="t"))
        await label_late(conn, rng, m, 0.4)
    svc = WindowsService(uow)
    names = {vid: v for v, vid in m.versions.items()}
    start, end = T0, T0 + timedelta(hours=4)
    for phase in ("pending", "refreshed"):
        if phase == "refreshed":
            await refresh_windows(pool)
        async with pool.acquire() as conn:
            raw = await raw_predictions(conn, m.id)
        for level in ("1m", "1h"):
            total = await svc.model_metrics(m.name, start, end, granularity=level)
            assert check_series(m, total, raw, level) > 100, (phase, level)
        by_version = await svc.model_metrics(m.name, start, end, granularity="1h", group_by="version")
        assert check_series(m, by_version, raw, "1h", key=lambda r: names[r["version_id"]]) > 50, phase


@pytest.mark.parametrize("level", ["1m", "1h", "1d"])
async def test_model_version_windows_view(pool: asyncpg.Pool, level: LevelName, uow: UnitOfWork) -> None:
    """The SQL view over the segment-merged windows agrees with the service's per-version series."""
    rng = np.random.default_rng(83)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"], dims=("region",))
        await copy_predictions(conn, prediction_rows(rng, m, 1500, minutes=180, labeled=0.5))
    await refresh_windows(pool)
    series = await WindowsService(uow).model_metrics(
        "bin", T0, T0 + timedelta(hours=3), granularity=level, group_by="version"
    )
    async with pool.acquire() as conn:
        rows = {
            (r["bucket"], r["version"]): r
            for r in await conn.fetch(f"SELECT * FROM model_version_windows_{level} WHERE model = 'bin'")
        }
        columns = {a.name for a in (await conn.prepare(f"SELECT * FROM model_version_windows_{level}")).get_attributes()}
    assert "segment" not in columns and "version" in columns
    assert len(rows) == len(series.points) > 0
    assert sum(r["roc_auc"] is not None for r in rows.values()) > len(rows) // 4
    cols = ("accuracy", "log_loss", "brier", "label_coverage", "latency_mean_ms", "latency_p95_ms", "roc_auc")
    checked = sum(
        assert_view_row(rows[(p.bucket, p.group)], p.values, p.error_bounds, cols) for p in series.points
    )
    assert checked > 4 * len(series.points)


async def _has_column(conn: asyncpg.Connection, relation: str, column: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = $1 AND column_name = $2",
            relation,
            column,
        )
    )


@pytest.fixture
async def db_at_0002(cluster_url: str) -> AsyncIterator[str]:
    name = f"driftline_mig3_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name)
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0002_windows")
    yield url
    await drop_database(cluster_url, name)


async def test_migration_0003_fills_from_existing_windows_and_downgrades(db_at_0002: str) -> None:
    cfg = alembic_config(db_at_0002)
    pool = await asyncpg.create_pool(db_at_0002, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT to_regclass('predictions_by_version_1h')") is None
            assert await conn.fetchval("SELECT to_regclass('predictions_by_model_1h')") is None
        rng = np.random.default_rng(84)
        models = await _stream(pool, rng)
        await refresh_windows(pool)  # 0002's refresher: predictions_* only
        async with pool.acquire() as conn:  # and something still pending when the migration runs
            await copy_predictions(conn, prediction_rows(rng, models[0], 300, minutes=60, id_prefix="pend"))
            assert await conn.fetchval("SELECT count(*) FROM window_invalidations") > 0
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with pool.acquire() as conn:
            # exact before the refresher runs: pending ranges are read from raw rows
            raw = await raw_predictions(conn, models[0].id)
        async with unit_from_pool(pool) as uow:
            series = await WindowsService(uow).model_metrics("bin", T0 - timedelta(hours=1), T0 + timedelta(hours=4))
        assert check_series(models[0], series, raw, series.granularity) > 20
        await refresh_windows(pool)
        async with pool.acquire() as conn:
            assert await assert_consistent(conn, "after migration") > 200
            assert await conn.fetchval("SELECT count(*) FROM model_version_windows_1h") > 0
            assert await _has_column(conn, "model_windows_1h", "roc_auc")

        await asyncio.to_thread(command.downgrade, cfg, "0002_windows")
        async with pool.acquire() as conn:
            left = await conn.fetch(
                "SELECT relname FROM pg_class WHERE relname LIKE 'predictions\\_by\\_%'"
                " OR relname LIKE 'model\\_version\\_windows%'"
            )
            assert [r["relname"] for r in left] == []
            assert await conn.fetchval("SELECT to_regclass('model_windows_1h')") is not None
            assert not await _has_column(conn, "model_windows_1h", "roc_auc")  # 0002's columns again
            assert await conn.fetchval("SELECT to_regproc('dl_roc_auc')") is None
            assert await conn.fetchval("SELECT to_regproc('dl_score_bins')") is None
        await asyncio.to_thread(command.upgrade, cfg, "head")
        await refresh_windows(pool)
        async with pool.acquire() as conn:
            await assert_consistent(conn, "after downgrade and upgrade")
    finally:
        await pool.close()
