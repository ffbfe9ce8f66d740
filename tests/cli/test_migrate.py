"""`driftline migrate`: upgrade head on an empty database, downgrade base, upgrade head again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.cli.helpers import driftline
from tests.conftest import create_database, drop_database


@pytest.fixture
async def empty_db(cluster_url: str) -> AsyncIterator[str]:
    name = f"driftline_cli_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name)
    yield url
    await drop_database(cluster_url, name)


async def _state(url: str) -> tuple[str | None, set[str]]:
    conn = await asyncpg.connect(url)
    try:
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        revision = None
        if "alembic_version" in tables:
            revision = await conn.fetchval("SELECT version_num FROM alembic_version")
        return revision, tables
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    assert await _state(empty_db) == (None, set())

    up = driftline(empty_db, "migrate", "upgrade", "head")
    assert up.returncode == 0, up.stderr
    revision, tables = await _state(empty_db)
    assert revision is not None and revision in up.stdout
    assert {"models", "model_versions", "predictions", "metrics", "rejected_rows"} <= tables

    down = driftline(empty_db, "migrate", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    revision, tables = await _state(empty_db)
    assert revision is None
    assert tables <= {"alembic_version"}

    again = driftline(empty_db, "migrate")  # the default action is upgrade head
    assert again.returncode == 0, again.stderr
    revision, tables = await _state(empty_db)
    assert revision is not None
    assert {"models", "predictions", "metrics"} <= tables


async def test_downgrade_needs_a_target(db_url: str) -> None:
    out = driftline(db_url, "migrate", "downgrade")
    assert out.returncode == 2
    assert "name the target revision" in out.stderr
