"""The single-scan window read is sorted on the client, not by PostgreSQL: its rows come back in exactly the
(bucket, group) order `ORDER BY 1, 2` gives (PostgreSQL's collation for segment values, NULL last, several keys
element by element), for one key and for two, at a stored level and at a multiple of one; and the answer's
points follow it."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import numpy as np
import pytest

import engine.store.window_reads as reader
from engine.services.windows import WindowsService
from engine.store.unit import UnitOfWork
from engine.windows.merge import _as_time
from engine.windows.spec import PREDICTIONS
from tests.conftest import refresh_windows
from tests.windows.streams import PRED_COLUMNS, T0, copy_predictions, create_model, prediction_rows

pytestmark = pytest.mark.asyncio

REGIONS = ["EU", "eu", "Zürich", "zurich", "asia", "b-2", "B_1", None]


def _keys(rows: list[asyncpg.Record]) -> list[tuple[object, object]]:
    """(bucket, group) of each run of rows (rows of one key may come in any order among themselves)."""
    out: list[tuple[object, object]] = []
    for r in rows:
        key = (r["bucket"], tuple(r["grp"]) if isinstance(r["grp"], list) else r["grp"])
        if not out or out[-1] != key:
            out.append(key)
    return out


async def test_client_sort_equals_order_by(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(41)
    async with pool.acquire() as conn:
        m = await create_model(conn, "ordered", "binary", ["neg", "pos"], dims=("region",))
        at = PRED_COLUMNS.index("segments")
        rows = []
        for i, r in enumerate(prediction_rows(rng, m, 1200, minutes=600, labeled=0.5)):
            value = REGIONS[i % len(REGIONS)]
            seg = json.dumps({"region": value} if value is not None else {"other": "x"})
            rows.append((*r[:at], seg, *r[at + 1 :]))
        await copy_predictions(conn, rows)
    await refresh_windows(pool)
    start, end = T0, T0 + timedelta(hours=10)
    fam = PREDICTIONS.subset({"n", "confusion"})
    region = reader.GroupBy("segment", "region")
    by_region: list[tuple[object, object]] = []
    async with uow.snapshot() as snap:
        for group, gran in ((region, "1h"), ((reader.GroupBy("version"), region), "1h"), (region, "6h"), (None, "1h")):
            read = reader.WindowRead(fam, "1h", m.id, start, end, group, granularity=gran)
            got = await reader.fetch_window_rows(snap.conn, read)
            # the same select, sorted by PostgreSQL as the read did before
            p = reader.Params()
            grp = reader._group_sql(read, p)
            bucket = reader._micros("bucket" if gran == "1h" else "time_bucket('6 hours', bucket)")
            sql = (
                f"SELECT {bucket} AS bucket, {grp} AS grp FROM {fam.relation('1h')}"
                f" WHERE model_id = {p(m.id, 'integer')} AND bucket >= {p(start)} AND bucket < {p(end)} ORDER BY 1, 2"
            )
            want = await snap.conn.fetch(sql, *p.values)
            assert len(got) == len(want) > 20
            assert _keys(got) == _keys(want), (group, gran)
            if group is region and gran == "1h":
                by_region = [(_as_time(b), g) for b, g in _keys(want)]
    series = await WindowsService(uow).model_metrics(m.name, start, end, granularity="1h", group_by="region")
    assert [(p.bucket, p.group) for p in series.points] == by_region
    first = [g for b, g in by_region if b == start]
    assert len(first) == len(REGIONS) and first[-1] is None  # every value in the first hour, NULL last
