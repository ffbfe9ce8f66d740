"""The drift report reads the window and the sustained rule's trailing span (which contains it) once, and
sums each feature's buckets with numpy: the states equal the two separate reads summed bucket by bucket with
`StoredWindow.__add__` (the way they were read before) — to the bit from refreshed buckets — with pending
ranges (raw rows) and windows whose bounds are not on bucket edges (which fall back to two reads)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import asyncpg
import numpy as np
import pytest

from engine.algorithms.drift.stored import StoredWindow
from engine.services.analyses.drift_scope import (
    Scope,
    _read,
    _window,
    read_feature_state,
    scoped_window_and_span,
)
from engine.services.analyses.window_state import window_level
from engine.services.baselines.service import BaselineService
from engine.store.feature_bins import active_baselines
from engine.store.unit import UnitOfWork
from engine.store.window_reads import read_windows
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows
from tests.conftest import refresh_windows
from tests.ingest.support import register_all


async def _bucket_by_bucket(snap, model_id, bins, start, end) -> dict[str, StoredWindow]:  # type: ignore[no-untyped-def]
    """The former summation: one `_window` per (bucket, feature) row, added one by one."""
    [m] = await read_windows(snap, [_read(model_id, bins, window_level(start, end), start, end)])
    out: dict[str, StoredWindow] = {}
    c = m.columns
    for i, feature in enumerate(m.groups):
        if c["counts"][i] is None:
            continue
        b = next(x for x in bins if x.feature == feature)
        sums = c["bin_sums"][i] if m.present["bin_sums"][i] else None
        w = _window(b, c["counts"][i], c["missing"][i], c["out_of_range"][i], c["value_sum"][i],
                    c["value_sumsq"][i], c["value_min"][i], c["value_max"][i], sums)
        out[feature] = out[feature] + w if feature in out else w
    return out


def _same(a: dict[str, StoredWindow], b: dict[str, StoredWindow], bitwise: bool) -> None:
    """Counts always equal; floats bitwise when `bitwise`, else to 1e-13 relative: rows merged from raw rows
    (pending ranges) arrive in an unspecified order within one (bucket, feature) — `ORDER BY bucket, grp`
    has ties — so their float sums can differ in the last bits between reads of different ranges, as the two
    separate reads before this change did."""
    assert a.keys() == b.keys()
    for f in a:
        for field in dataclasses.fields(StoredWindow):
            x, y = getattr(a[f], field.name), getattr(b[f], field.name)
            if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
                assert x is not None and y is not None and x.dtype == y.dtype, (f, field.name)
                if bitwise or x.dtype != np.float64:
                    assert np.array_equal(x, y), (f, field.name)  # bitwise for floats without NaN
                else:
                    np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-9)
            elif isinstance(x, float) and not bitwise:
                assert x == pytest.approx(y, rel=1e-13, abs=1e-9), (f, field.name)
            else:
                assert x == y, (f, field.name, x, y)


@pytest.mark.asyncio
@pytest.mark.parametrize("refreshed", [True, False])
async def test_one_read_equals_two_reads_summed_bucket_by_bucket(
    pool: asyncpg.Pool, uow: UnitOfWork, refreshed: bool
) -> None:
    models = await register_all(pool)
    m = models["price"]
    rng = np.random.default_rng(11)
    async with pool.acquire() as conn:
        v1 = await conn.fetchval("SELECT id FROM model_versions WHERE model_id = $1 ORDER BY id LIMIT 1", m.id)
        await insert_rows(conn, m, v1, rng, REF_START, REF_END, 2000, prefix="ref")
        await insert_rows(conn, m, v1, rng, REF_END, CUR_END, 3000, shifted=True, labeled=False, prefix="cur")
    await BaselineService(uow).create_from_range("price", "ref", REF_START, REF_END)
    if refreshed:
        await refresh_windows(pool)
    async with pool.acquire() as conn:
        bins = list(await active_baselines(conn, m.id))
    cases: list[tuple[datetime, datetime]] = [
        (CUR_START, CUR_END),  # 1h level
        (CUR_END - timedelta(minutes=20), CUR_END),  # 1m level
        (CUR_START + timedelta(minutes=7), CUR_END - timedelta(minutes=3, seconds=10)),  # end inside a minute
        (CUR_START + timedelta(seconds=30), CUR_END),  # start inside a minute: two reads
    ]
    shared = 0
    for start, end in cases:
        for sustain in (2, 4):
            lo = end - sustain * (end - start)
            async with uow.snapshot() as snap:
                window, span = await scoped_window_and_span(snap, m.id, bins, start, end, lo, Scope())
                expected_window = await _bucket_by_bucket(snap, m.id, bins, start, end)
                expected_span = await _bucket_by_bucket(snap, m.id, bins, lo, end)
                alone = await read_feature_state(snap, m.id, bins, start, end)
            assert window and span
            _same(window, expected_window, refreshed)
            _same(span, expected_span, refreshed)
            _same(alone, expected_window, refreshed)
            shared += window_level(start, end) == window_level(lo, end)
    assert shared >= 4  # the one-read path ran
