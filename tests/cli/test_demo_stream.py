"""The demo stream (examples/demo_stream.py) at small size, straight into a test database through the engine's
ingest service (no API server): everything it produces is valid, and it is deterministic."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from types import ModuleType

import asyncpg
import polars as pl

from engine.cli.spec import new_model_from_json
from engine.ingest.service import IngestService
from engine.services.models import ModelService
from engine.store.unit import UnitOfWork
from tests.cli.helpers import ROOT

ANCHOR = datetime(2026, 11, 23, 12, tzinfo=UTC)


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_stream", ROOT / "examples" / "demo_stream.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_stream"] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def test_stream_is_deterministic_and_drifts() -> None:
    demo = load_demo()
    a = demo.build_stream(ANCHOR, 1500, days=4, seed=3)
    b = demo.build_stream(ANCHOR, 1500, days=4, seed=3)
    assert a.predictions.equals(b.predictions) and a.labels.equals(b.labels) and a.metrics == b.metrics
    assert a.predictions.get_column("time").max() < ANCHOR
    day = pl.col("time").dt.truncate("1d")
    by_day = a.predictions.group_by(day).agg(
        (pl.col("scanner_vendor") == "vendor_c").mean().alias("vendor_c"), pl.col("score").mean()).sort("time")
    assert by_day["vendor_c"][0] == 0.0  # reference period: no new scanner
    assert by_day["vendor_c"][-1] > 0.4
    assert by_day["score"][-1] > by_day["score"][0]


async def test_stream_ingests_cleanly(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    demo = load_demo()
    stream = demo.build_stream(ANCHOR, 1200, days=4, seed=3)
    models = ModelService(uow)
    await models.create_model(new_model_from_json(demo.model_spec()))
    for arm, version in demo.VERSIONS.items():
        await models.create_version(demo.MODEL, version, stage="production" if arm == "A" else "staging")
    ingest = IngestService(uow)
    segments = ["environment", "region", "ab_arm"]
    for arm, version in demo.VERSIONS.items():
        rows = stream.predictions.filter(pl.col("ab_arm") == arm)
        result = await ingest.log_predictions(demo.MODEL, rows, version=version, segment_columns=segments)
        assert (result.written, result.rejected) == (rows.height, 0)
    labels = await ingest.log_labels(demo.MODEL, stream.labels)
    assert labels.written == stream.labels.height
    metrics = await ingest.log_metrics(stream.metrics, model_name=demo.MODEL)
    assert metrics.written == len(stream.metrics)
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM predictions")
        labelled = await conn.fetchval("SELECT count(*) FROM predictions WHERE label_class IS NOT NULL")
    assert (stored, labelled) == (stream.predictions.height, stream.labels.height)
