from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from engine.config import Settings
from tests.ingest import databases
from tests.ingest.support import register_all

# Per-test databases dropped in the background (see tests/ingest/databases.py).
db_url = databases.db_url
background_drops = databases.background_drops


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[AsyncTestClient]:
    app = create_app(Settings(database_url=db_url, max_batch_rows=500, pool_max_size=4))
    async with AsyncTestClient(app=app) as c:
        yield c


@pytest.fixture
async def models(pool: asyncpg.Pool) -> dict:
    return await register_all(pool)
