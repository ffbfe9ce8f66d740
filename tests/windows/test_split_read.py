"""A long read is split in two halves read at once on two connections sharing one snapshot; the result
equals the single-connection read (pending tail and refreshed), grouped and not, and equals the raw rows."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import msgspec
import numpy as np
import pytest

import engine.store.window_reads as reader
from engine.services.windows import WindowsService
from engine.store.unit import UnitOfWork, unit_from_pool
from engine.windows.spec import PREDICTIONS
from tests.conftest import refresh_windows
from tests.windows.streams import (
    PRED_COLUMNS,
    T0,
    copy_predictions,
    create_model,
    prediction_rows,
    raw_predictions,
)
from tests.windows.test_derive_batch import _assert_equal as assert_close
from tests.windows.test_metrics_oracle import check_series

pytestmark = pytest.mark.asyncio


async def test_split_read_equals_single_read(pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(31)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"], dims=("region",))
        await copy_predictions(conn, prediction_rows(rng, m, 1500, minutes=600, labeled=0.5))
    await refresh_windows(pool)
    async with pool.acquire() as conn:  # a pending tail in the second half
        await copy_predictions(conn, prediction_rows(rng, m, 200, minutes=600, id_prefix="t", labeled=0.5))
        raw = await raw_predictions(conn, m.id)
    svc = WindowsService(uow)
    start, end = T0 - timedelta(hours=1), T0 + timedelta(hours=11)
    for group_by in (None, "region"):
        monkeypatch.setattr(reader, "SPLIT_MIN_BUCKETS", 10**9)
        single = await svc.model_metrics(m.name, start, end, granularity="1m", group_by=group_by)
        monkeypatch.setattr(reader, "SPLIT_MIN_BUCKETS", 4)
        assert reader.split_read(reader.WindowRead(PREDICTIONS, "1m", m.id, start, end)) is not None
        split = await svc.model_metrics(m.name, start, end, granularity="1m", group_by=group_by)
        # equal up to float summation order (rows of one bucket may arrive in any order in either read)
        a, b = msgspec.to_builtins(split), msgspec.to_builtins(single)
        assert [(p["bucket"], p["group"]) for p in a["points"]] == [
            (p["bucket"], p["group"]) for p in b["points"]
        ]
        for pa, pb in zip(a["points"], b["points"], strict=True):
            for part in ("values", "error_bounds", "per_class"):
                assert_close(pa[part], pb[part], f"{pa['bucket']} {part}")
        assert len(split.points) > 300
    assert check_series(m, split, raw, "1m", key=lambda r: json.loads(r["segments"]).get("region")) > 1000


async def test_trimmed_latency_histogram_equals_stored_array(pool: asyncpg.Pool) -> None:
    """Reads ship only the latency bins between each bucket's min and max; placed back, every series'
    histogram equals the stored array, also for latencies of 0, under 10 µs, on bin edges and over 100 s."""
    rng = np.random.default_rng(32)
    extremes = [0.0, 1e-9, 0.01, 0.0100001, 10 ** (-2 + 7 / 140), 10**2.5, 99_999.9, 1e5, 3e7, None]
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"], dims=("region",))
        rows = prediction_rows(rng, m, 1200, minutes=120, labeled=0.5)
        at = PRED_COLUMNS.index("latency_ms")
        rows = [
            (*r[:at], extremes[i % len(extremes)] if i % 7 == 0 else r[at], *r[at + 1 :])
            for i, r in enumerate(rows)
        ]
        await copy_predictions(conn, rows)
    await refresh_windows(pool)
    fam = PREDICTIONS.subset({"n", "latency_hist", "latency_min", "latency_max", "latency_n"})
    read = reader.WindowRead(fam, "1m", m.id, T0, T0 + timedelta(hours=2), reader.GroupBy("segment", "region"))
    async with unit_from_pool(pool) as uow, uow.snapshot() as snap:
        [got] = await reader.read_windows(snap, [read])
        stored = await snap.conn.fetch(
            "SELECT bucket, segment ->> 'region' AS grp, dl_sum_counts(latency_hist) AS latency_hist"
            " FROM predictions_1m WHERE model_id = $1 GROUP BY 1, 2 ORDER BY 1, 2",
            m.id,
        )
    assert len(got) == len(stored) > 100
    hist = got.columns["latency_hist"]
    for i, s in enumerate(stored):
        assert (got.buckets[i], got.groups[i]) == (s["bucket"], s["grp"])
        if s["latency_hist"] is None:
            assert not got.present["latency_hist"][i]
        else:
            assert hist[i].tolist() == list(s["latency_hist"])
