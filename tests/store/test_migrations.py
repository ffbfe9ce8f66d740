"""Alembic against a live database: upgrade head, downgrade base, upgrade head, on a fresh empty database
(the first migration creates the timescaledb extension itself)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from tests.conftest import alembic_config, create_database, drop_database

CORE_TABLES = {"models", "model_features", "model_versions", "predictions", "metrics", "ingest_batches", "rejected_rows"}
CORE_HYPERTABLES = {"predictions", "metrics"}


@pytest.fixture
async def empty_db(cluster_url: str) -> AsyncIterator[str]:
    name = f"driftline_mig_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name)
    yield url
    await drop_database(cluster_url, name)


async def _state(url: str) -> dict[str, object]:
    conn = await asyncpg.connect(url)
    try:
        has_tsdb = await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'") == 1
        tables = {r[0] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        columns = sorted(tuple(r) for r in await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public'"))
        indexes = {r[0] for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
        hypertables = {r[0]: r[1] for r in await conn.fetch(
            "SELECT h.hypertable_name, d.time_interval FROM timescaledb_information.hypertables h "
            "JOIN timescaledb_information.dimensions d USING (hypertable_schema, hypertable_name)")} if has_tsdb else {}
        head = None
        if "alembic_version" in tables:
            head = await conn.fetchval("SELECT version_num FROM alembic_version")
        return {"tables": tables, "columns": columns, "indexes": indexes, "hypertables": hypertables, "head": head,
                "timescaledb": has_tsdb}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    cfg = alembic_config(empty_db)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    empty = await _state(empty_db)
    assert not empty["timescaledb"] and empty["tables"] == set()

    await asyncio.to_thread(command.upgrade, cfg, "head")
    first = await _state(empty_db)
    assert first["timescaledb"] and first["head"] == head
    assert first["tables"] >= CORE_TABLES  # type: ignore[operator]
    hyper = first["hypertables"]
    assert set(hyper) >= CORE_HYPERTABLES  # type: ignore[arg-type]
    assert {hyper[t] for t in CORE_HYPERTABLES} == {timedelta(days=1)}  # type: ignore[index]
    assert {"predictions_model_pid", "predictions_model_time", "metrics_model_name_time",
            "model_versions_one_production"} <= first["indexes"]  # type: ignore[operator]

    # Put data in, so the downgrade has to drop populated hypertables and their chunks.
    conn = await asyncpg.connect(empty_db)
    try:
        mid = await conn.fetchval("INSERT INTO models (name, task) VALUES ('m', 'regression') RETURNING id")
        vid = await conn.fetchval("INSERT INTO model_versions (model_id, version) VALUES ($1, 'v1') RETURNING id", mid)
        await conn.execute(
            "INSERT INTO predictions (time, model_id, version_id, prediction_id, predicted_value) "
            "SELECT t, $1, $2, 'p' || i, i FROM generate_series(1, 50) i, "
            "LATERAL (SELECT timestamptz '2026-03-01' + i * interval '2 hours' AS t) x", mid, vid)
        await conn.execute("INSERT INTO metrics (time, name, value) VALUES (now(), 'cost', 1)")
        assert await conn.fetchval(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'predictions'") >= 4
    finally:
        await conn.close()

    await asyncio.to_thread(command.downgrade, cfg, "base")
    down = await _state(empty_db)
    assert down["tables"] == {"alembic_version"}, down["tables"]
    assert down["hypertables"] == {}
    assert down["head"] is None
    conn = await asyncpg.connect(empty_db)
    try:  # no chunk tables left behind in TimescaleDB's internal schema
        assert await conn.fetchval("SELECT count(*) FROM _timescaledb_catalog.chunk") == 0
    finally:
        await conn.close()

    await asyncio.to_thread(command.upgrade, cfg, "head")
    second = await _state(empty_db)
    assert second == first


async def test_chunk_interval_comes_from_settings(empty_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_CHUNK_INTERVAL", "6 hours")
    await asyncio.to_thread(command.upgrade, alembic_config(empty_db), "head")
    hyper = (await _state(empty_db))["hypertables"]

    assert {hyper[t] for t in CORE_HYPERTABLES} == {timedelta(hours=6)}  # type: ignore[index]


async def test_apache_edition_gets_no_policies(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        license_ = await conn.fetchval("SELECT current_setting('timescaledb.license', true)") or "apache"
        jobs = {r[0] for r in await conn.fetch("SELECT proc_name FROM timescaledb_information.jobs")}
        compressed = await conn.fetchval(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE compression_enabled "
            "AND hypertable_name IN ('predictions', 'metrics')")
    finally:
        await conn.close()
    if license_ == "timescale":
        assert "policy_compression" in jobs and compressed == 2
    else:
        assert "policy_compression" not in jobs and "policy_retention" not in jobs and compressed == 0
