from __future__ import annotations

import asyncpg
import pytest

from engine.domain import ModelSpec
from engine.ingest.service import IngestService
from engine.store.unit import UnitOfWork
from tests.ingest.support import register_all


@pytest.fixture
async def models(pool: asyncpg.Pool) -> dict[str, ModelSpec]:
    return await register_all(pool)


@pytest.fixture
def ingest(uow: UnitOfWork) -> IngestService:
    return IngestService(uow)
