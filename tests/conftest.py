"""Test databases: one migrated template per test session, cloned per test (`CREATE DATABASE … TEMPLATE`).

The cluster comes from DRIFTLINE_TEST_DATABASE_URL (any database on it; we only use it to create and drop
others), else from the project-local cluster's default URL. The cluster must run with
`timescaledb.max_background_workers = 0` so the template has no background connections (scripts/cluster.sh
does that).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.config import Config

from engine.config import DEFAULT_DATABASE_URL
from engine.rollups.refresher import RefreshReport, refresh
from engine.store.unit import UnitOfWork, unit_from_pool

ROOT = Path(__file__).resolve().parents[1]


def _with_db(url: str, dbname: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{dbname}"


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def _admin(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(_with_db(url, "postgres"))


async def create_database(cluster_url: str, name: str, template: str | None = None) -> str:
    conn = await _admin(cluster_url)
    try:
        tpl = f" TEMPLATE {template}" if template else ""
        await conn.execute(f"CREATE DATABASE {name}{tpl}")
    finally:
        await conn.close()
    return _with_db(cluster_url, name)


async def drop_database(cluster_url: str, name: str) -> None:
    conn = await _admin(cluster_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def cluster_url() -> str:
    return os.environ.get("DRIFTLINE_TEST_DATABASE_URL") or os.environ.get("DRIFTLINE_DATABASE_URL") or DEFAULT_DATABASE_URL


@pytest.fixture(scope="session")
async def template_db(cluster_url: str) -> AsyncIterator[str]:
    name = f"driftline_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = await create_database(cluster_url, name)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    finally:
        await conn.close()
    # env.py runs its own event loop, so Alembic goes to a worker thread.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    yield name
    await drop_database(cluster_url, name)


@pytest.fixture(scope="session")
async def background_drops() -> AsyncIterator[list[asyncio.Task[None]]]:
    """DROP DATABASE waits for a checkpoint (0.8–3 s on a busy machine, against ~0.2 s for a typical test):
    per-test databases are dropped in the background and all drops are awaited at the end of the session."""
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    await asyncio.gather(*tasks)


@pytest.fixture
async def db_url(cluster_url: str, template_db: str, background_drops: list[asyncio.Task[None]]) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"driftline_t_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name, template=template_db)
    yield url
    background_drops.append(asyncio.get_running_loop().create_task(drop_database(cluster_url, name)))


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    from engine.store.db import create_pool

    p = await create_pool(db_url, min_size=1, max_size=8)
    yield p
    await p.close()


@pytest.fixture
async def uow(pool: asyncpg.Pool) -> AsyncIterator[UnitOfWork]:
    """The test's unit of work: one connection of the test's pool, with the pool granted as spare."""
    async with unit_from_pool(pool) as u:
        yield u


async def refresh_windows(pool: asyncpg.Pool, **kwargs: Any) -> RefreshReport:
    """One refresher run on a connection of its own (what a worker tick does)."""
    async with unit_from_pool(pool) as u:
        return await refresh(u, **kwargs)
