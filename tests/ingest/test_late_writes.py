"""Writes into old history on either edition: the prediction-time lookup behind labels, the label horizon,
custom plans for every label UPDATE, and deletes that the windows see (service, SQL function, pruning)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
import pytest

from engine.domain import ModelSpec
from engine.errors import ValidationError
from engine.ingest.service import IngestService
from engine.services.predictions import PredictionService
from engine.services.retention import prune_prediction_times
from engine.store.unit import UnitOfWork
from tests.conftest import refresh_windows
from tests.ingest.support import binary_rows, fetch_predictions, parse_time


async def _stored(ingest: IngestService, n: int, seed: int, prefix: str = "b") -> list[dict[str, object]]:
    rows = binary_rows(np.random.default_rng(seed), n, prefix=prefix)
    await ingest.log_predictions("churn", rows)
    return rows


async def test_every_insert_records_the_prediction_time(pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    """Rows written past the engine (psql, COPY) are in the lookup too, so their labels need no time."""
    m = models["churn"]
    async with pool.acquire() as conn:
        vid = await conn.fetchval("SELECT id FROM model_versions WHERE model_id = $1 AND version = 'v1'", m.id)
        await conn.execute(
            "INSERT INTO predictions (time, model_id, version_id, prediction_id, score)"
            " SELECT timestamptz '2026-02-01' + i * interval '37 minutes', $1, $2, 'sql-' || i, 0.5"
            " FROM generate_series(1, 200) i", m.id, vid)
        times = await conn.fetch("SELECT prediction_id, time FROM prediction_times WHERE model_id = $1", m.id)
        stored = await conn.fetch("SELECT prediction_id, time FROM predictions WHERE model_id = $1", m.id)
    assert len(times) == 200 and sorted(map(tuple, times)) == sorted(map(tuple, stored))
    async with pool.acquire() as conn:
        result = await IngestService(UnitOfWork(conn)).log_labels(
            "churn", [{"prediction_id": f"sql-{i}", "label": "churn"} for i in range(1, 201, 3)])
    assert result.written == 67
    stored = await fetch_predictions(pool, m.id)
    assert sum(r["label_class"] == "churn" for r in stored.values()) == 67


async def test_labels_beyond_the_horizon_need_the_prediction_time(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    rows = await _stored(ingest, 40, 31)
    old = [str(r["prediction_id"]) for r in rows[:10]]
    async with pool.acquire() as conn:  # as if the worker had dropped their lookup entries (label horizon)
        await conn.execute("DELETE FROM prediction_times WHERE prediction_id = ANY($1)", old)
    with pytest.raises(ValidationError) as refused:
        await ingest.log_labels("churn", [{"prediction_id": p, "label": "stay"} for p in old[:3]])
    assert {e.row for e in refused.value.errors} == {0, 1, 2}
    assert all("label horizon" in e.reason and "send its time" in e.reason for e in refused.value.errors)
    with_time = [{"prediction_id": r["prediction_id"], "label": "stay", "time": r["time"]} for r in rows[:10]]
    with_time.append({"prediction_id": rows[10]["prediction_id"], "label": "churn"})  # still in the lookup
    result = await ingest.log_labels("churn", with_time)
    assert result.written == 11
    stored = await fetch_predictions(pool, models["churn"].id)
    assert [stored[str(r["prediction_id"])]["label_class"] for r in rows[:11]] == ["stay"] * 10 + ["churn"]
    # a time that is not the prediction's finds nothing
    wrong = parse_time(str(rows[12]["time"])) + timedelta(seconds=1)
    with pytest.raises(ValidationError) as refused:
        await ingest.log_labels("churn", [{"prediction_id": rows[12]["prediction_id"], "label": "stay",
                                           "time": wrong.isoformat()}])
    assert refused.value.errors[0].reason == "no stored prediction with this id and time"


async def test_every_label_update_gets_a_plan_for_its_own_bounds(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], uow: UnitOfWork
) -> None:
    """The bounds of each label UPDATE are constants to the planner (force_custom_plan), however often the
    prepared statement runs on one connection: PostgreSQL would otherwise switch to a generic plan after
    five executions, whose bind-parameter bounds TimescaleDB cannot use to spare compressed batches."""
    ingest = IngestService(uow)
    rows = await _stored(ingest, 400, 32)
    for k in range(8):
        batch = [{"prediction_id": r["prediction_id"], "label": "stay"} for r in rows[k * 50:(k + 1) * 50]]
        assert (await ingest.log_labels("churn", batch)).written == 50
    plans = await uow.conn.fetch(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        " WHERE statement LIKE '%INSERT INTO labels_matched%' AND statement NOT LIKE '%pg_prepared_statements%'"
    )
    assert plans and sum(p["generic_plans"] for p in plans) == 0 and sum(p["custom_plans"] for p in plans) >= 8
    assert await uow.conn.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"  # restored
    with pytest.raises(ValidationError):  # refused after the UPDATEs ran: rolled back, settings with it
        await ingest.log_labels("churn", [{"prediction_id": rows[0]["prediction_id"], "label": "churn"},
                                          {"prediction_id": "unknown", "label": "churn"}])
    assert await uow.conn.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"
    assert (await fetch_predictions(pool, models["churn"].id))[str(rows[0]["prediction_id"])]["label_class"] == "stay"


async def test_deletes_reach_the_windows(pool: asyncpg.Pool, models: dict[str, ModelSpec], uow: UnitOfWork) -> None:
    """By ids (found through the lookup), by range, by both: each records the deleted rows' hours, removes
    their lookup entries, and after a refresh the windows count exactly the rows left."""
    ingest = IngestService(uow)
    rows = await _stored(ingest, 300, 33)
    m = models["churn"]
    await refresh_windows(pool)
    svc = PredictionService(uow)
    by_id = [str(r["prediction_id"]) for r in rows[:25]] + ["never-stored"]
    assert (await svc.delete("churn", ids=by_id)).deleted == 25
    times = sorted(parse_time(str(r["time"])) for r in rows[25:])
    lo, hi = times[40], times[90]
    assert (await svc.delete("churn", start=lo, end=hi)).deleted == 50
    both = [str(r["prediction_id"]) for r in rows[25:]]
    later = [p for p, t in ((str(r["prediction_id"]), parse_time(str(r["time"]))) for r in rows[25:]) if t >= times[200]]
    assert (await svc.delete("churn", ids=both, start=times[200], end=times[-1] + timedelta(seconds=1))).deleted == len(later)
    async with pool.acquire() as conn:
        left = await conn.fetchval("SELECT count(*) FROM predictions WHERE model_id = $1", m.id)
        assert left == 300 - 25 - 50 - len(later)
        assert await conn.fetchval("SELECT count(*) FROM prediction_times WHERE model_id = $1", m.id) == left
        assert await conn.fetchval("SELECT count(*) FROM window_invalidations WHERE kind = 'predictions'") > 0
    report = await refresh_windows(pool)
    assert report.records > 0
    async with pool.acquire() as conn:
        for level in ("1m", "1h", "1d"):
            for rel in ("predictions", "predictions_by_version", "predictions_by_model"):
                n = await conn.fetchval(f"SELECT sum(n) FROM {rel}_{level} WHERE model_id = $1", m.id)
                assert n == left, f"{rel}_{level}"


async def test_delete_arguments_are_checked(models: dict[str, ModelSpec], uow: UnitOfWork) -> None:
    svc = PredictionService(uow, max_ids=3)
    t = datetime(2026, 3, 1, tzinfo=UTC)
    for kwargs, field in (
        ({}, None),
        ({"ids": []}, "prediction_id"),
        ({"ids": ["a", "b", "c", "d"]}, "prediction_id"),
        ({"ids": ["a", ""]}, "prediction_id"),
        ({"ids": ["a\x00b"]}, "prediction_id"),
        ({"ids": ["x" * 201]}, "prediction_id"),
        ({"start": t, "end": t}, "end"),
        ({"start": t.replace(tzinfo=None)}, "start"),
    ):
        with pytest.raises(ValidationError) as refused:
            await svc.delete("churn", **kwargs)  # type: ignore[arg-type]
        assert refused.value.errors[0].field == field, kwargs


async def test_sql_delete_and_invalidate(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    """The documented SQL: dl_delete_predictions, or a plain DELETE followed by dl_invalidate."""
    rows = await _stored(ingest, 120, 34)
    m = models["churn"]
    await refresh_windows(pool)
    async with pool.acquire() as conn, conn.transaction():
        assert await conn.fetchval("SELECT dl_delete_predictions('churn', p_ids => $1)",
                                   [str(r["prediction_id"]) for r in rows[:7]]) == 7
        span = await conn.fetchrow("SELECT min(time) AS lo, max(time) AS hi FROM predictions WHERE model_id = $1"
                                   " AND prediction_id = ANY($2)", m.id, [str(r["prediction_id"]) for r in rows[7:20]])
        await conn.execute("DELETE FROM predictions WHERE model_id = $1 AND prediction_id = ANY($2)",
                           m.id, [str(r["prediction_id"]) for r in rows[7:20]])
        await conn.execute("SELECT dl_invalidate('predictions', $1, $2, $3)", m.id, span["lo"],
                           span["hi"] + timedelta(microseconds=1))
        with pytest.raises(asyncpg.InvalidParameterValueError):
            async with conn.transaction():
                await conn.execute("SELECT dl_delete_predictions('churn')")
        with pytest.raises(asyncpg.NoDataFoundError):
            async with conn.transaction():
                await conn.execute("SELECT dl_delete_predictions('nope', p_ids => ARRAY['x'])")
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT sum(n) FROM predictions_by_model_1d WHERE model_id = $1", m.id) == 100


async def test_sql_invalidate_makes_a_metrics_delete_visible(pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "metrics", records=[(t0 + timedelta(seconds=13 * i), None, "cost", 1.0, None) for i in range(600)],
            columns=("time", "model_id", "name", "value", "tags"))
    await refresh_windows(pool)
    async with pool.acquire() as conn, conn.transaction():
        lo, hi = t0 + timedelta(minutes=10), t0 + timedelta(minutes=40)
        deleted = await conn.execute("DELETE FROM metrics WHERE time >= $1 AND time < $2", lo, hi)
        await conn.execute("SELECT dl_invalidate('metrics', NULL, $1, $2)", lo, hi)
        with pytest.raises(asyncpg.InvalidParameterValueError):
            async with conn.transaction():
                await conn.execute("SELECT dl_invalidate('features', NULL, $1, $2)", lo, hi)
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT sum(n) FROM metrics_1d") == 600 - int(deleted.split()[-1])


async def test_prune_drops_lookup_chunks_older_than_the_horizon(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], uow: UnitOfWork
) -> None:
    m = models["churn"]
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        vid = await conn.fetchval("SELECT id FROM model_versions WHERE model_id = $1 AND version = 'v1'", m.id)
        await conn.executemany(
            "INSERT INTO predictions (time, model_id, version_id, prediction_id, score) VALUES ($1, $2, $3, $4, 0.5)",
            [(now - timedelta(days=d), m.id, vid, f"d{d}") for d in (1, 20, 100, 200, 400)],
        )
    assert await prune_prediction_times(uow, None, None) == 0
    assert await prune_prediction_times(uow, "90 days", "7 days") >= 1  # the horizon wins over the retention
    async with pool.acquire() as conn:
        kept = {r[0] for r in await conn.fetch("SELECT prediction_id FROM prediction_times")}
    assert {"d1", "d20"} <= kept and not {"d200", "d400"} & kept  # d100 may share a chunk with day 90
    assert await prune_prediction_times(uow, None, "30 days") >= 1
    async with pool.acquire() as conn:
        kept = {r[0] for r in await conn.fetch("SELECT prediction_id FROM prediction_times")}
        assert await conn.fetchval("SELECT count(*) FROM predictions WHERE model_id = $1", m.id) == 5
    assert "d1" in kept and "d100" not in kept
