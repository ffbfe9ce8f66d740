"""Monitors through the SDK (sync and async clients) against a real server: apply (created / unchanged /
updated with its diff), read, run now (second one a no-op), run history, delete."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from engine.sdk import AsyncClient, Client
from engine.sdk.errors import DriftlineAPIError
from tests.monitors.support import CUR_END, data


async def test_sync_and_async_clients(pool: asyncpg.Pool, server_url: str) -> None:
    await data(pool, baseline=False)

    def sync_calls() -> None:
        with Client(server_url) as dl:
            spec = {"window": "1h", "granularity": "1m", "analyses": [{"kind": "quality"}]}
            assert dl.apply_monitor("churn", "hourly", **spec)["change"] == "created"
            assert dl.apply_monitor("churn", "hourly", **spec)["change"] == "unchanged"
            dry = dl.apply_monitor("churn", "hourly", dry_run=True, **{**spec, "min_samples": 99})
            assert dry["change"] == "updated" and dry["diff"] == [{"field": "min_samples", "old": 10, "new": 99}]
            assert dl.get_monitor("churn", "hourly")["min_samples"] == 10
            created = dl.create_monitor("price", "daily", window="1d", granularity="1h", cron="0 6 * * *")
            assert created["cron"] == "0 6 * * *"
            with pytest.raises(DriftlineAPIError) as bad:
                dl.create_monitor("price", "x", analyses=[{"kind": "nope"}])
            assert bad.value.status == 422
            assert [m["name"] for m in dl.list_monitors("churn")] == ["hourly"]
            first = dl.run_monitor("churn", "hourly", end=CUR_END)
            assert not first["noop"] and dl.run_monitor("churn", "hourly", end=CUR_END)["noop"]
            [run] = dl.monitor_runs("churn", "hourly")
            assert dl.monitor_run("churn", "hourly", run["id"])["status"] == "queued"
            assert dl.delete_monitor("price", "daily")["name"] == "daily"

    await asyncio.to_thread(sync_calls)
    async with AsyncClient(server_url) as dl:
        assert sorted(m["name"] for m in await dl.list_monitors()) == ["hourly"]
        assert (await dl.apply_monitor("churn", "hourly", window="2h"))["change"] == "updated"
        assert (await dl.get_monitor("churn", "hourly"))["window"] == "2h"
        assert (await dl.run_monitor("churn", "hourly", end=CUR_END))["noop"] is False
        runs = await dl.monitor_runs("churn", "hourly", status="queued")
        assert len(runs) == 2 and (await dl.monitor_run("churn", "hourly", runs[0]["id"]))["monitor"] == "hourly"
        assert (await dl.delete_monitor("churn", "hourly"))["name"] == "hourly"
        assert await dl.list_monitors("churn") == []
