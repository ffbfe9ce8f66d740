"""A long read is split in two halves read at once on two connections sharing one snapshot; the result
equals the single-connection read (pending tail and refreshed), grouped and not, and equals the raw rows."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import numpy as np
import pytest

import engine.windows.reader as reader
from engine.services.windows import WindowsService
from engine.windows.refresher import refresh
from engine.windows.spec import PREDICTIONS
from tests.windows.streams import T0, copy_predictions, create_model, prediction_rows, raw_predictions
from tests.windows.test_derive_batch import _assert_equal as assert_close
from tests.windows.test_metrics_oracle import check_series

pytestmark = pytest.mark.asyncio


async def test_split_read_equals_single_read(pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(31)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"], dims=("region",))
        await copy_predictions(conn, prediction_rows(rng, m, 1500, minutes=600, labeled=0.5))
    await refresh(pool)
    async with pool.acquire() as conn:  # a pending tail in the second half
        await copy_predictions(conn, prediction_rows(rng, m, 200, minutes=600, id_prefix="t", labeled=0.5))
        raw = await raw_predictions(conn, m.id)
    svc = WindowsService(pool)
    start, end = T0 - timedelta(hours=1), T0 + timedelta(hours=11)
    for group_by in (None, "region"):
        monkeypatch.setattr(reader, "SPLIT_MIN_BUCKETS", 10**9)
        single = await svc.model_metrics(m.name, start, end, granularity="1m", group_by=group_by)
        monkeypatch.setattr(reader, "SPLIT_MIN_BUCKETS", 4)
        assert reader.split_read(reader.WindowRead(PREDICTIONS, "1m", m.id, start, end)) is not None
        split = await svc.model_metrics(m.name, start, end, granularity="1m", group_by=group_by)
        # equal up to float summation order (rows of one bucket may arrive in any order in either read)
        a, b = split.to_dict(), single.to_dict()
        assert [(p["bucket"], p["group"]) for p in a["points"]] == [
            (p["bucket"], p["group"]) for p in b["points"]
        ]
        for pa, pb in zip(a["points"], b["points"], strict=True):
            for part in ("values", "error_bounds", "per_class"):
                assert_close(pa[part], pb[part], f"{pa['bucket']} {part}")
        assert len(split.points) > 300
    assert check_series(m, split, raw, "1m", key=lambda r: json.loads(r["segments"]).get("region")) > 1000
