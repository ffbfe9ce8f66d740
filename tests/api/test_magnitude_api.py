"""Over HTTP, every body format refuses a number beyond the magnitude bounds (engine.ingest.magnitude) with a
422 naming its row and field, and writes nothing; values at the bounds are accepted."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import polars as pl
import pytest
from litestar.testing import AsyncTestClient

from engine.domain import ModelSpec
from engine.ingest.magnitude import MAGNITUDE_REASON
from tests.ingest.support import T0, iso, snapshot

PRICE = "/api/v1/models/price/predictions"
BAD = 1


def _rows(field: str, value: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"prediction_id": f"p{k}", "time": iso(T0 + timedelta(minutes=k)),
                                   "prediction": 1.5, "label": 2.0, "latency_ms": 3.0, "rooms": 4.0}
                                  for k in range(3)]
    rows[BAD][field] = value
    return rows


def _json(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps([{k: v for k, v in r.items() if k != "rooms"} | {"features": {"rooms": r["rooms"]}}
                       for r in rows]).encode()


def _ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"\n".join(json.dumps({k: v for k, v in r.items() if k != "rooms"} | {"features": {"rooms": r["rooms"]}})
                      .encode() for r in rows)


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows).with_columns(pl.col("time").str.to_datetime(time_zone="UTC"))


def _arrow(rows: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    _frame(rows).write_ipc_stream(buf)
    return buf.getvalue()


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    _frame(rows).write_parquet(buf)
    return buf.getvalue()


BODIES: dict[str, tuple[str, Callable[[list[dict[str, Any]]], bytes]]] = {
    "json": ("application/json", _json),
    "ndjson": ("application/x-ndjson", _ndjson),
    "arrow": ("application/vnd.apache.arrow.stream", _arrow),
    "parquet": ("application/vnd.apache.parquet", _parquet),
}
FIELDS = {"prediction": "prediction", "label": "label", "latency_ms": "latency_ms", "rooms": "features.rooms"}


def _refused(r: Any, row: int, field: str) -> None:
    assert r.status_code == 422, r.text
    assert any(e["row"] == row and e["field"] == field and e["reason"] == MAGNITUDE_REASON
               for e in r.json()["errors"]), r.text


@pytest.mark.parametrize("fmt", list(BODIES))
async def test_prediction_bodies(fmt: str, client: AsyncTestClient, pool: asyncpg.Pool,
                                 models: dict[str, ModelSpec]) -> None:
    ctype, encode = BODIES[fmt]
    before = await snapshot(pool)
    for column, field in FIELDS.items():
        for value in (1e101, 1e-101, 1e-170, 1e200):
            r = await client.post(PRICE, content=encode(_rows(column, value)), headers={"content-type": ctype})
            _refused(r, BAD, field)
            assert await snapshot(pool) == before
    edge = _rows("prediction", -1e100)
    edge[0].update(label=1e-100, latency_ms=1e100, rooms=-1e-100)
    r = await client.post(PRICE, content=encode(edge), headers={"content-type": ctype})
    assert r.status_code == 201 and r.json()["written"] == 3, r.text
    stored = await pool.fetch("SELECT predicted_value, label_value, latency_ms, num_features[1] AS rooms "
                              "FROM predictions ORDER BY time")
    assert [tuple(s) for s in stored] == [(1.5, 1e-100, 1e100, -1e-100), (-1e100, 2.0, 3.0, 4.0), (1.5, 2.0, 3.0, 4.0)]


async def test_labels_and_metrics_endpoints(client: AsyncTestClient, pool: asyncpg.Pool,
                                            models: dict[str, ModelSpec]) -> None:
    rows = [{k: v for k, v in r.items() if k not in ("label", "rooms")} for r in _rows("prediction", 1.0)]
    assert (await client.post(PRICE, json=rows)).status_code == 201
    before = await snapshot(pool)
    for value in (1e101, -1e-101, 1e300):
        labels = [{"prediction_id": f"p{k}", "label": value if k == BAD else 1.0} for k in range(3)]
        _refused(await client.post("/api/v1/models/price/labels", json=labels), BAD, "label")
        metrics = [{"name": "cost", "value": value if k == BAD else 1.0, "time": iso(T0)} for k in range(3)]
        _refused(await client.post("/api/v1/metrics?model=price", json=metrics), BAD, "value")
        assert await snapshot(pool) == before
    labels = [{"prediction_id": f"p{k}", "label": v} for k, v in enumerate([1e100, -1e-100, 0.0])]
    assert (await client.post("/api/v1/models/price/labels", json=labels)).status_code in (200, 201)
    metrics = [{"name": "cost", "value": v, "time": iso(T0)} for v in (-1e100, 1e-100, 0)]
    assert (await client.post("/api/v1/metrics?model=price", json=metrics)).status_code == 201
    assert [r[0] for r in await pool.fetch("SELECT label_value FROM predictions ORDER BY time")] == [1e100, -1e-100, 0.0]
    assert sorted(r[0] for r in await pool.fetch("SELECT value FROM metrics")) == [-1e100, 0.0, 1e-100]
