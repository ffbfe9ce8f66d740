from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from engine.config import Settings
from tests.ingest.support import register_all


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[AsyncTestClient]:
    app = create_app(Settings(database_url=db_url, max_batch_rows=500, pool_max_size=4))
    async with AsyncTestClient(app=app) as c:
        yield c


@pytest.fixture
async def models(pool: asyncpg.Pool) -> dict:
    return await register_all(pool)
