"""Shared helpers for the store, ingest and API tests: three reference models, row generators and
snapshots of everything ingest can write (to prove a refused batch changed nothing)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import numpy as np

from engine.domain import ModelSpec, NewFeature, NewModel
from engine.services.models import ModelService
from engine.store.unit import unit_from_pool

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BINARY_LABELS = ["stay", "churn"]
BINARY_THRESHOLD = 0.3
MULTI_LABELS = ["setosa", "versicolor", "virginica"]


def binary_model(name: str = "churn") -> NewModel:
    return NewModel(
        name=name, task="binary", class_labels=BINARY_LABELS, threshold=BINARY_THRESHOLD,
        dimensions=["region"],
        features=[
            NewFeature("age", "numeric", min_value=0, max_value=120),
            NewFeature("plan", "categorical", categories=("basic", "pro")),
            NewFeature("income", "numeric"),
            NewFeature("tenure", "numeric", nullable=False),
            NewFeature("channel", "categorical"),
        ],
    )


def multiclass_model(name: str = "iris") -> NewModel:
    return NewModel(
        name=name, task="multiclass", class_labels=MULTI_LABELS,
        features=[NewFeature(f"x{i}", "numeric") for i in range(4)] + [NewFeature("site", "categorical")],
    )


def regression_model(name: str = "price") -> NewModel:
    return NewModel(
        name=name, task="regression",
        features=[NewFeature("rooms", "numeric"), NewFeature("area", "numeric"), NewFeature("city", "categorical")],
    )


async def register_all(pool: asyncpg.Pool) -> dict[str, ModelSpec]:
    """The three reference models, each with a production version 'v1' and a staging version 'v2'."""
    out: dict[str, ModelSpec] = {}
    async with unit_from_pool(pool) as uow:
        svc = ModelService(uow)
        for new in (binary_model(), multiclass_model(), regression_model()):
            out[new.name] = await svc.create_model(new)
            await svc.create_version(new.name, "v1", "production")
            await svc.create_version(new.name, "v2", "staging")
    return out


def iso(t: datetime) -> str:
    return t.isoformat()


def binary_rows(rng: np.random.Generator, n: int, prefix: str = "b", start: int = 0) -> list[dict[str, Any]]:
    """Binary rows: score only (the class is derived), over ~3 days (several chunks), with NaN / missing
    features, optional latency and ragged segment tags; times written with assorted UTC offsets."""
    rows = []
    for k in range(start, start + n):
        t = T0 + timedelta(seconds=float(rng.uniform(0, 3 * 86400)))
        offset = timedelta(hours=int(rng.integers(-5, 6)))
        stamp = t.astimezone(timezone(offset)).isoformat()
        feats: dict[str, Any] = {
            "age": float(rng.uniform(18, 90)) if rng.random() > 0.2 else float("nan"),
            "plan": str(rng.choice(["basic", "pro"])) if rng.random() > 0.1 else None,
            "tenure": int(rng.integers(0, 60)),
            "channel": str(rng.choice(["web", "app", "store"])),
        }
        if rng.random() > 0.3:  # income sometimes absent altogether
            feats["income"] = float(rng.lognormal(10, 1))
        segs: dict[str, str] = {"region": str(rng.choice(["eu", "us", "apac"]))}
        if rng.random() > 0.5:
            segs["arm"] = str(rng.choice(["A", "B"]))
        row: dict[str, Any] = {"prediction_id": f"{prefix}-{k}", "time": stamp, "score": float(rng.random()),
                               "features": feats, "segments": segs}
        if rng.random() > 0.25:
            row["latency_ms"] = float(rng.exponential(20))
        rows.append(row)
    return rows


def good_binary_row(k: int, t: datetime = T0) -> dict[str, Any]:
    return {"prediction_id": f"g-{k}", "time": iso(t + timedelta(minutes=k)), "score": 0.05 + 0.009 * ((k * 37) % 100),
            "features": {"age": 30.0 + k, "plan": "pro", "income": 1000.0, "tenure": 3, "channel": "web"},
            "segments": {"region": "eu"}, "latency_ms": 5.0}


def parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def is_nan(v: object) -> bool:
    return isinstance(v, float) and math.isnan(v)


def expected_num(model: ModelSpec, feats: dict[str, Any]) -> list[float | None]:
    """The numeric feature array as it should be stored: by declared position, NaN and absent → None."""
    out: list[float | None] = []
    for f in sorted((f for f in model.features if f.kind == "numeric"), key=lambda f: f.position):
        v = feats.get(f.name)
        out.append(None if v is None or is_nan(v) else float(v))
    return out


def expected_cat(model: ModelSpec, feats: dict[str, Any]) -> list[str | None]:
    out: list[str | None] = []
    for f in sorted((f for f in model.features if f.kind == "categorical"), key=lambda f: f.position):
        v = feats.get(f.name)
        out.append(None if v is None else str(v))
    return out


async def feature_positions(conn: asyncpg.Connection | asyncpg.Pool, model_id: int) -> dict[str, tuple[str, int]]:
    rows = await conn.fetch("SELECT name, kind, position FROM model_features WHERE model_id = $1", model_id)
    return {r["name"]: (r["kind"], r["position"]) for r in rows}


async def fetch_predictions(conn: asyncpg.Connection | asyncpg.Pool, model_id: int) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM predictions WHERE model_id = $1", model_id)
    return {r["prediction_id"]: r for r in rows}


@dataclass(frozen=True)
class Snapshot:
    """Everything ingest may write, summarised to compare before and after a call."""

    predictions: tuple[Any, ...]
    labels: tuple[Any, ...]
    metrics: tuple[Any, ...]
    rejected: int
    batches: int


async def snapshot(conn: asyncpg.Connection | asyncpg.Pool) -> Snapshot:
    preds = await conn.fetch("SELECT model_id, prediction_id, time FROM predictions ORDER BY 1, 2, 3")
    labels = await conn.fetch(
        "SELECT prediction_id, label_class, label_value, label_time FROM predictions "
        "WHERE label_time IS NOT NULL ORDER BY 1, 4"
    )
    metrics = await conn.fetch("SELECT time, model_id, name, value, tags::text FROM metrics ORDER BY 1, 3, 4")
    return Snapshot(
        predictions=tuple(tuple(r) for r in preds),
        labels=tuple(tuple(r) for r in labels),
        metrics=tuple(tuple(r) for r in metrics),
        rejected=await conn.fetchval("SELECT count(*) FROM rejected_rows"),
        batches=await conn.fetchval("SELECT count(*) FROM ingest_batches"),
    )


def segments_of(record: asyncpg.Record) -> dict[str, str] | None:
    raw = record["segments"]
    return None if raw is None else json.loads(raw)
