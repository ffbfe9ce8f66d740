"""An analytics batch whose Parquet files hold a number beyond the ingest magnitude bounds is refused, naming
the row and field, and writes nothing (engine.ingest.magnitude)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import polars as pl
import pytest

from engine.errors import ValidationError
from engine.ingest.magnitude import MAGNITUDE_REASON
from engine.services.analytics_jobs.batch import run_batch_job
from engine.store.unit import UnitOfWork
from tests.analytics_jobs.support import settings, write_pair
from tests.ingest.support import register_all, snapshot


@pytest.mark.parametrize(("kind", "column", "value", "field"), [
    ("predictions", "label", 1e200, "label"),
    ("predictions", "prediction", 1e-170, "prediction"),
    ("metrics", "value", 1e101, "value"),
])
async def test_out_of_bound_values_in_batch_files_are_refused(
    kind: str, column: str, value: float, field: str, pool: asyncpg.Pool, uow: UnitOfWork, db_url: str,
    tmp_path: Path,
) -> None:
    models = await register_all(pool)
    pair = write_pair(tmp_path / "root", models["price"], seed=5, n=40)
    frame = pair.predictions if kind == "predictions" else pair.metrics
    path = pair.predictions_path if kind == "predictions" else pair.metrics_path
    bad = 7
    frame.with_columns(pl.when(pl.int_range(pl.len()) == bad).then(pl.lit(value))
                       .otherwise(pl.col(column)).alias(column)).write_parquet(path)
    before = await snapshot(pool)
    cfg = settings(db_url, tmp_path / "root", tmp_path / "out")
    with pytest.raises(ValidationError) as info:
        await run_batch_job(uow, cfg, "in/" + pair.metrics_path.name, str(pair.predictions_path), "price")
    assert any(e.row == bad and e.field == field and e.reason == MAGNITUDE_REASON for e in info.value.errors), \
        info.value.errors
    assert await snapshot(pool) == before
