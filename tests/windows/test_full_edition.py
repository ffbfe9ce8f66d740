"""Full (Timescale-License) edition: the same relations as hierarchical continuous aggregates.

Runs against DRIFTLINE_FULL_TEST_DATABASE_URL (the `full_pool` fixture of tests/windows/conftest.py: a fresh
database per test on a cluster whose timescaledb.license is 'timescale'). Skipped with the reason otherwise."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import numpy as np
import pytest

from engine.rollups.refresher import is_continuous_aggregate
from engine.services.windows import WindowsService
from engine.store.unit import unit_from_pool
from engine.windows.spec import METRICS, PREDICTIONS
from tests.conftest import refresh_windows
from tests.windows.helpers import assert_same_rows, merged_rows, relation_rows, source_rows
from tests.windows.streams import (
    T0,
    copy_predictions,
    create_model,
    label_late,
    prediction_rows,
    raw_predictions,
)
from tests.windows.test_merged_windows import assert_consistent
from tests.windows.test_metrics_oracle import check_series

pytestmark = [pytest.mark.asyncio, pytest.mark.full_edition]


async def test_windows_are_continuous_aggregates_and_match_raw(full_pool: asyncpg.Pool) -> None:
    rng = np.random.default_rng(51)
    async with full_pool.acquire() as conn:
        for rel in (
            "predictions_1m",
            "predictions_1h",
            "predictions_1d",
            "metrics_1m",
            "metrics_1h",
            "metrics_1d",
            "predictions_by_version_1m",
            "predictions_by_version_1h",
            "predictions_by_version_1d",
            "predictions_by_model_1m",
            "predictions_by_model_1h",
            "predictions_by_model_1d",
        ):
            assert await is_continuous_aggregate(conn, rel), rel
        m = await create_model(conn, "bin", "binary", ["neg", "pos"], threshold=0.4)
        await copy_predictions(conn, prediction_rows(rng, m, 1500, minutes=240, labeled=0.3))
        # late data, a month old: far outside every refresh policy's window
        await copy_predictions(
            conn, prediction_rows(rng, m, 300, start=T0 - timedelta(days=30), minutes=60, id_prefix="old")
        )
        await label_late(conn, rng, m, 0.5)
        await conn.copy_records_to_table(
            "metrics",
            records=[(T0 + timedelta(seconds=i * 7), m.id, "cost", float(i % 13), None) for i in range(2000)],
            columns=["time", "model_id", "name", "value", "tags"],
        )
    start, end = T0 - timedelta(days=31), T0 + timedelta(days=1)
    async with full_pool.acquire() as conn:
        raw = await raw_predictions(conn, m.id)
    # before any refresh: real-time reads (pending ranges from raw rows) are already exact
    async with unit_from_pool(full_pool) as uow:
        series = await WindowsService(uow).model_metrics("bin", start, end, granularity="1h")
    assert check_series(m, series, raw, "1h") > 50
    report = await refresh_windows(full_pool)
    assert report.edition == "timescale" and report.records > 0
    async with full_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM window_invalidations") == 0
        for fam in (PREDICTIONS, METRICS):
            assert_same_rows(
                await relation_rows(conn, fam, "1m"), await source_rows(conn, fam), f"{fam.name} 1m"
            )
            assert_same_rows(
                await relation_rows(conn, fam, "1h"),
                await merged_rows(conn, fam, "1m", "1 hour"),
                f"{fam.name} 1h",
            )
            assert_same_rows(
                await relation_rows(conn, fam, "1d"),
                await merged_rows(conn, fam, "1m", "1 day"),
                f"{fam.name} 1d",
            )
        assert await assert_consistent(conn, "full edition") > 100
        materialized = await conn.fetchval(
            "SELECT count(*) FROM _timescaledb_catalog.continuous_agg c"
            " JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id"
            " WHERE c.user_view_name = 'predictions_1m'"
        )
        assert materialized == 1
    async with unit_from_pool(full_pool) as uow:
        for level in ("1h", "1d"):
            series = await WindowsService(uow).model_metrics("bin", start, end, granularity=level)
            assert check_series(m, series, raw, level) > 10
    again = await refresh_windows(full_pool)
    assert again.records == 0


async def test_full_edition_policies_exist(full_pool: asyncpg.Pool) -> None:
    async with full_pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT hypertable_name, config FROM timescaledb_information.jobs"
            " WHERE proc_name = 'policy_refresh_continuous_aggregate'"
        )
        views = await conn.fetch(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates ORDER BY 1"
        )
    families = ("predictions", "metrics", "predictions_by_version", "predictions_by_model")
    assert len(rows) == 3 * len(families)
    assert {v["view_name"] for v in views} == {f"{f}_{lv}" for f in families for lv in ("1m", "1h", "1d")}
    assert not any(v["materialized_only"] for v in views)
