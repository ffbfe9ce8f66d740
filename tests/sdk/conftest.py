"""Fixtures for the SDK tests: a real uvicorn server over a fresh migrated database, and helpers to read
back what was stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest

from tests.sdk.servers import api_server

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NUMERIC = ("x1", "x2", "x3")
CATEGORICAL = ("plan", "device")
PLANS = ("free", "pro", "team")
DEVICES = ("ios", "android", "web")
MODEL = "churn"


@pytest.fixture
def server_url(db_url: str) -> Iterator[str]:
    with api_server(db_url) as url:
        yield url


def model_features() -> list[dict[str, Any]]:
    return [{"name": n, "kind": "numeric"} for n in NUMERIC] + [{"name": c, "kind": "categorical"} for c in CATEGORICAL]


def prediction_rows(n: int, seed: int, prefix: str = "p") -> list[dict[str, Any]]:
    """JSON-shaped prediction rows for the binary model `churn` (class labels no/yes)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(NUMERIC)))
    score = rng.uniform(size=n)
    latency = rng.gamma(2.0, 5.0, size=n)
    plans = rng.choice(PLANS, size=n)
    devices = rng.choice(DEVICES, size=n)
    regions = rng.choice(["eu", "us"], size=n)
    rows = []
    for i in range(n):
        feats: dict[str, Any] = {name: float(x[i, j]) for j, name in enumerate(NUMERIC)}
        feats["plan"] = str(plans[i])
        feats["device"] = str(devices[i])
        segs = {"region": str(regions[i])}
        if i % 3 == 0:
            segs["arm"] = "b"
        rows.append({
            "prediction_id": f"{prefix}-{i}",
            "time": (T0 + timedelta(seconds=37 * i, microseconds=i)).isoformat(),
            "score": float(score[i]),
            "latency_ms": float(latency[i]),
            "features": feats,
            "segments": segs,
        })
    return rows


async def stored_predictions(db_url: str) -> dict[str, asyncpg.Record]:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT * FROM predictions ORDER BY time")
    finally:
        await conn.close()
    return {r["prediction_id"]: r for r in rows}


async def fetch(db_url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()
