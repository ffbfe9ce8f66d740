"""One database and one real uvicorn server for the whole bad-input suite. A refused request changes nothing
(each case compares a snapshot of everything ingest and the registry can write before and after), so the cases
can share it; the few cases that store rows (partial mode) use model names or ids of their own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest

from engine.domain import ModelSpec
from engine.ingest.service import IngestService
from engine.store.db import create_pool
from engine.store.unit import unit_from_pool
from tests.conftest import create_database, drop_database
from tests.ingest.support import T0, good_binary_row, register_all
from tests.sdk.servers import api_server


@dataclass(frozen=True)
class Target:
    db_url: str
    pool: asyncpg.Pool
    models: dict[str, ModelSpec]


@pytest.fixture(scope="package")
async def target(cluster_url: str, template_db: str) -> AsyncIterator[Target]:
    name = f"driftline_t_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name, template=template_db)
    pool = await create_pool(url, min_size=1, max_size=4)
    try:
        models = await register_all(pool)
        async with unit_from_pool(pool) as uow:  # so that "unchanged" is not trivially "empty"
            svc = IngestService(uow)
            await svc.log_predictions("churn", [good_binary_row(k, T0 - timedelta(days=1)) for k in range(20)])
            await svc.log_labels("churn", [{"prediction_id": f"g-{k}", "label": "churn"} for k in range(5)])
            await svc.log_metrics([{"name": "cost", "value": 1.0, "time": T0.isoformat()}], idempotency_key="seed")
        yield Target(url, pool, models)
    finally:
        await pool.close()
        await drop_database(cluster_url, name)


@pytest.fixture(scope="package")
def served(target: Target) -> Iterator[str]:
    with api_server(target.db_url, max_batch_rows=500) as url:
        yield url
