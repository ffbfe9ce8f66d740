"""The SDK with scoped keys against a real server: an ingest key logs, a read key reads, each is refused
the other's operation (403, not retried)."""

from __future__ import annotations

import asyncpg
import pytest

from engine.config import AccessSettings
from engine.sdk import Client
from engine.sdk.errors import DriftlineAPIError
from engine.services.access.keys import KeyService
from engine.store.unit import unit_from_pool
from tests.access.support import OFF, SECRET, server_secret
from tests.ingest.support import good_binary_row, register_all
from tests.sdk.servers import api_server


async def test_sdk_with_ingest_and_read_keys(db_url: str, pool: asyncpg.Pool) -> None:
    await register_all(pool)
    async with unit_from_pool(pool) as uow:
        ingest = (await KeyService(uow).create(server_secret(), "pipeline", ["ingest"], ["churn"])).token
        read = (await KeyService(uow).create(server_secret(), "dashboards", ["read"])).token
    access = AccessSettings(secret_key=SECRET, ingest_rate=OFF, failed_auth_rate=OFF)
    with api_server(db_url, access=access) as url:
        with Client(url, api_key=ingest) as dl:
            assert dl.log_predictions("churn", [good_binary_row(k) for k in range(3)]).written == 3
            with pytest.raises(DriftlineAPIError) as err:
                dl.list_models()
            assert err.value.status == 403 and err.value.attempts == 1
            with pytest.raises(DriftlineAPIError) as err:
                dl.log_predictions("iris", [good_binary_row(9)])
            assert err.value.status == 403
        with Client(url, api_key=read) as dl:
            assert {m.name for m in dl.list_models()} == {"churn", "iris", "price"}
            with pytest.raises(DriftlineAPIError) as err:
                dl.log_predictions("churn", [good_binary_row(5)])
            assert err.value.status == 403
        with Client(url) as dl, pytest.raises(DriftlineAPIError) as err:
            dl.list_models()
        assert err.value.status == 401
