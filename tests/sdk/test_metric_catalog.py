"""`GET /api/v1/metrics` and `Client.list_metrics`: the custom metric series with the minutes they span and
their row count, the same whether the windows are refreshed, pending or both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import polars as pl

from engine.sdk import AsyncClient, Client, DriftlineAPIError
from tests.conftest import refresh_windows
from tests.sdk.conftest import T0


def _metrics(name: str, n: int, start_min: int, step_s: int) -> list[dict[str, Any]]:
    return [{"name": name, "value": float(i), "time": (T0 + timedelta(minutes=start_min, seconds=step_s * i)).isoformat()}
            for i in range(n)]


def _rest(url: str, **params: str) -> Any:
    r = httpx.get(f"{url}/api/v1/metrics", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_metric_catalog_counts_refreshed_and_pending_rows(server_url: str, pool: asyncpg.Pool) -> None:
    with Client(server_url) as dl:
        assert _rest(server_url) == []
        dl.create_model("m1", "regression")
        dl.create_model("m2", "regression")
        dl.log_metrics(_metrics("cost", 50, 0, 30), model="m1")  # 08:00:00 … 08:24:30
        dl.log_metrics(_metrics("cost", 5, 60, 1), model="m2")
        dl.log_metrics(_metrics("gpu_hours", 3, 5, 90))  # no model
    await refresh_windows(pool)
    with Client(server_url) as dl:
        dl.log_metrics(_metrics("cost", 10, 100, 7), model="m1")  # pending: 09:40:00 … 09:41:03
        dl.log_metrics(_metrics("latency", 4, 200, 1), model="m1")
        everything = _rest(server_url)
        frame = dl.list_metrics()
        of_m1 = dl.list_metrics("m1", frame="pandas")
    expected = [
        {"name": "cost", "model": "m1", "first": "2026-03-02T08:00:00Z", "last": "2026-03-02T09:42:00Z", "count": 60},
        {"name": "cost", "model": "m2", "first": "2026-03-02T09:00:00Z", "last": "2026-03-02T09:01:00Z", "count": 5},
        {"name": "gpu_hours", "model": None, "first": "2026-03-02T08:05:00Z", "last": "2026-03-02T08:09:00Z",
         "count": 3},
        {"name": "latency", "model": "m1", "first": "2026-03-02T11:20:00Z", "last": "2026-03-02T11:21:00Z",
         "count": 4},
    ]
    assert sorted(everything, key=lambda e: (e["name"], e["model"] or "")) == sorted(
        expected, key=lambda e: (e["name"], e["model"] or ""))
    assert frame.schema["first"] == pl.Datetime("us", "UTC") and frame.schema["count"] == pl.Int64
    assert sorted(frame.rows()) == sorted(
        (e["name"], e["model"], *(pl.Series([e[k]]).str.to_datetime(time_zone="UTC")[0] for k in ("first", "last")),
         e["count"]) for e in expected)
    assert sorted(zip(of_m1["name"], of_m1["count"], strict=True)) == [("cost", 60), ("latency", 4)]
    assert str(of_m1["first"].dt.tz) == "UTC"
    # the same numbers once everything is refreshed
    await refresh_windows(pool)
    assert _rest(server_url) == everything
    assert _rest(server_url, model="m2") == [e for e in everything if e["model"] == "m2"]
    async with AsyncClient(server_url) as adl:
        assert (await adl.list_metrics("m1")).height == 2
        try:
            await adl.list_metrics("nope")
        except DriftlineAPIError as exc:
            assert exc.status == 404
        else:
            raise AssertionError("an unknown model is a 404")
