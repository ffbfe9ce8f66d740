"""`full_pool`: a fresh, migrated database on a full-edition (Timescale License) cluster, for the tests marked
`full_edition`. The cluster comes from DRIFTLINE_FULL_TEST_DATABASE_URL (any database on it); without one,
or on a cluster whose timescaledb.license is not 'timescale', those tests skip and say why."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic import command

from engine.store.db import create_pool
from tests.conftest import alembic_config, create_database, drop_database

ENV = "DRIFTLINE_FULL_TEST_DATABASE_URL"


@pytest.fixture
async def full_pool() -> AsyncIterator[asyncpg.Pool]:
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"{ENV} is not set: no full-edition (Timescale License) TimescaleDB to test against")
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"{ENV} unreachable: {exc}")
    try:
        license_ = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    finally:
        await conn.close()
    if license_ != "timescale":
        pytest.skip(f"{ENV} has timescaledb.license={license_!r}, not 'timescale'")
    name = f"driftline_full_{uuid.uuid4().hex[:10]}"
    db = await create_database(url, name)
    try:
        c = await asyncpg.connect(db)
        await c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        await c.close()
        await asyncio.to_thread(command.upgrade, alembic_config(db), "head")
        pool = await create_pool(db, min_size=1, max_size=6)
        try:
            yield pool
        finally:
            await pool.close()
    finally:
        await drop_database(url, name)
