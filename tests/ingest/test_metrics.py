"""Custom metrics round trip, with tags, global and model-scoped."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import numpy as np
import pytest

from engine.domain import ModelSpec
from engine.errors import NotFoundError, ValidationError
from engine.ingest.service import IngestService
from tests.ingest.support import T0, snapshot


def _metric_rows(rng: np.random.Generator, n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(n):
        row: dict[str, object] = {
            "name": str(rng.choice(["cost_usd", "gpu.util", "revenue/eur"])),
            "value": float(rng.normal(10, 3)) if i % 6 else int(rng.integers(0, 100)),
            "time": (T0 + timedelta(seconds=int(rng.integers(0, 200_000)))).isoformat(),
        }
        if i % 3:
            row["tags"] = {"region": str(rng.choice(["eu", "us"])), "host": f"h{i % 4}"}
        rows.append(row)
    return rows


async def test_metrics_round_trip(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rng = np.random.default_rng(31)
    global_rows = _metric_rows(rng, 90)
    model_rows = _metric_rows(rng, 60)
    r1 = await ingest.log_metrics(global_rows)
    r2 = await ingest.log_metrics(model_rows, model_name="churn")
    assert (r1.kind, r1.received, r1.written) == ("metrics", 90, 90)
    assert (r2.received, r2.written) == (60, 60)

    def key(model_id: int | None, row: dict[str, object]) -> tuple[object, ...]:
        from datetime import datetime

        tags = row.get("tags")
        return (datetime.fromisoformat(str(row["time"])), model_id, row["name"], float(row["value"]),  # type: ignore[arg-type]
                json.dumps(tags, sort_keys=True) if tags else None)

    expected = sorted([key(None, r) for r in global_rows] + [key(models["churn"].id, r) for r in model_rows],
                      key=repr)
    stored = await pool.fetch("SELECT time, model_id, name, value, tags FROM metrics")
    got = sorted(((r["time"], r["model_id"], r["name"], r["value"],
                   json.dumps(json.loads(r["tags"]), sort_keys=True) if r["tags"] else None) for r in stored), key=repr)
    assert got == expected

    # Per-name sums in SQL agree with numpy over what was sent.
    for model_id, rows in ((None, global_rows), (models["churn"].id, model_rows)):
        sums = {r["name"]: r["s"] for r in await pool.fetch(
            "SELECT name, sum(value) AS s FROM metrics WHERE model_id IS NOT DISTINCT FROM $1 GROUP BY name", model_id)}
        for name in {str(r["name"]) for r in rows}:
            ref = np.sum([float(r["value"]) for r in rows if r["name"] == name])  # type: ignore[arg-type]
            assert sums[name] == pytest.approx(ref, rel=1e-12)
    # Tags can be sliced on in SQL.
    eu = await pool.fetchval("SELECT count(*) FROM metrics WHERE tags->>'region' = 'eu'")
    assert eu == sum(1 for r in global_rows + model_rows if isinstance(r.get("tags"), dict) and r["tags"]["region"] == "eu")  # type: ignore[index]


async def test_metrics_unknown_model_and_bad_rows(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rows = _metric_rows(np.random.default_rng(32), 5)
    before = await snapshot(pool)
    with pytest.raises(NotFoundError, match="nomodel"):
        await ingest.log_metrics(rows, model_name="nomodel")
    bad = [*rows, {"name": "x", "value": float("inf"), "time": T0.isoformat()},
           {"name": "bad name", "value": 1, "time": T0.isoformat(), "tags": {"k": 1}},
           {"name": "y", "value": "1", "time": "2026-03-01T00:00:00"}]
    with pytest.raises(ValidationError) as info:
        await ingest.log_metrics(bad)
    got = {(e.row, e.field) for e in info.value.errors}
    assert got == {(5, "value"), (6, "name"), (6, "tags"), (7, "value"), (7, "time")}
    assert await snapshot(pool) == before
    result = await ingest.log_metrics(bad, partial=True)
    assert (result.written, result.rejected) == (5, 3)
    assert await pool.fetchval("SELECT count(*) FROM metrics") == 5
    # one entry per refused row, all its errors inside
    kept = await pool.fetch("SELECT row_index, errors FROM rejected_rows WHERE kind = 'metrics' ORDER BY row_index")
    assert [r["row_index"] for r in kept] == [5, 6, 7]
    assert [len(json.loads(r["errors"])) for r in kept] == [1, 2, 2]


async def test_metrics_from_a_polars_frame(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    import polars as pl

    n = 30
    rng = np.random.default_rng(33)
    values = rng.normal(size=n)
    frame = pl.DataFrame({
        "name": ["gpu.util"] * n,
        "value": values,
        "time": pl.datetime_range(T0, T0 + timedelta(minutes=n - 1), "1m", eager=True, time_zone="US/Pacific"),
    })
    assert (await ingest.log_metrics(frame, model_name="iris")).written == n
    got = await pool.fetch("SELECT time, model_id, value, tags FROM metrics ORDER BY time")
    assert [g["value"] for g in got] == values.tolist()
    assert [g["time"] for g in got] == frame["time"].to_list()
    assert {(g["model_id"], g["tags"]) for g in got} == {(models["iris"].id, None)}
