"""Feature histograms against a hand-made baseline, and custom-metric windows, against numpy."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta

import asyncpg
import numpy as np
import pytest

from engine.services.windows import WindowsService
from engine.store.unit import UnitOfWork
from tests.conftest import refresh_windows
from tests.windows.oracle import bucket_of
from tests.windows.streams import T0, copy_predictions, create_model, prediction_rows, raw_predictions

pytestmark = pytest.mark.asyncio
EDGES = [-1.0, 0.0, 1.5]  # 4 bins: (-inf, -1), [-1, 0), [0, 1.5), [1.5, inf)
CATEGORIES = ["red", "green", "blue"]  # "mauve" is out of range


def expected_hist(raw: list[asyncpg.Record], level: str) -> dict[tuple, dict[str, object]]:
    by_bucket: dict = defaultdict(list)
    for r in raw:
        by_bucket[bucket_of(r["time"], level)].append(r)
    out = {}
    for b, rows in by_bucket.items():
        x = [r["num_features"][0] for r in rows]
        present = np.array([v for v in x if v is not None])
        counts = np.bincount(np.searchsorted(EDGES, present, side="right"), minlength=len(EDGES) + 1)
        out[(b, "x1")] = {
            "n": len(rows),
            "missing": len(x) - present.size,
            "out_of_range": int(((present < -3) | (present > 3)).sum()),
            "counts": counts.tolist(),
        }
        c = [r["cat_features"][0] for r in rows]
        known = [v for v in c if v in CATEGORIES]
        out[(b, "color")] = {
            "n": len(rows),
            "missing": sum(v is None for v in c),
            "out_of_range": sum(v is not None and v not in CATEGORIES for v in c),
            "counts": [known.count(k) for k in CATEGORIES],
        }
    return out


async def test_feature_histograms_against_hand_made_baseline(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(31)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        await copy_predictions(conn, prediction_rows(rng, m, 1500, minutes=200))
        # the baseline arrives after the data: history is re-binned
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, edges, lower, upper) VALUES ($1, 'x1', 'numeric', $2, -3, 3)",
            m.id,
            EDGES,
        )
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, categories) VALUES ($1, 'color', 'categorical', $2)",
            m.id,
            CATEGORIES,
        )
    svc = WindowsService(uow)
    start, end = T0 - timedelta(hours=1), T0 + timedelta(hours=5)
    for phase in ("pending", "refreshed", "late rows pending", "late rows refreshed"):
        if "refreshed" in phase:
            await refresh_windows(pool)
        if phase == "late rows pending":
            async with pool.acquire() as conn:
                await copy_predictions(conn, prediction_rows(rng, m, 300, minutes=200, id_prefix="late"))
        async with pool.acquire() as conn:
            raw = await raw_predictions(conn, m.id)
        for level in ("1m", "1h", "1d"):
            series = await svc.feature_histograms("bin", start, end, granularity=level)
            got = {
                (p.bucket, p.feature): {
                    "n": p.n,
                    "missing": p.missing,
                    "out_of_range": p.out_of_range,
                    "counts": list(p.counts),
                }
                for p in series.points
            }
            assert got == expected_hist(raw, level), (phase, level)
        assert {b.feature for b in series.baselines} == {"x1", "color"}


async def test_custom_metrics_series(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(41)
    n = 4000
    times = [T0 + timedelta(seconds=float(s)) for s in rng.uniform(-7200, 5 * 3600, n)]
    values = rng.normal(50, 8, n)
    envs = rng.choice(["prod", "dev"], n)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        recs = [
            (t, m.id, "cost", float(v), json.dumps({"env": e}))
            for t, v, e in zip(times, values, envs, strict=True)
        ]
        await conn.copy_records_to_table(
            "metrics", records=recs[: n // 2], columns=["time", "model_id", "name", "value", "tags"]
        )
        await refresh_windows(pool)
        await conn.copy_records_to_table(
            "metrics", records=recs[n // 2 :], columns=["time", "model_id", "name", "value", "tags"]
        )
    svc = WindowsService(uow)
    for level in ("1m", "1h", "1d"):
        series = await svc.custom_metrics(
            "cost",
            T0 - timedelta(hours=3),
            T0 + timedelta(hours=6),
            granularity=level,
            model="bin",
            group_by="env",
        )
        groups: dict = defaultdict(list)
        for t, v, e in zip(times, values, envs, strict=True):
            groups[(bucket_of(t, level), e)].append(v)
        got = {(p.bucket, p.group): p for p in series.points}
        assert set(got) == set(groups)
        for k, vs in groups.items():
            a = np.array(vs)
            p = got[k]
            assert p.count == a.size
            assert p.mean == pytest.approx(a.mean(), rel=1e-9)
            # std from (sum, sum of squares) loses ~eps·mean²/std to cancellation: compare accordingly
            assert p.std == pytest.approx(a.std(), rel=1e-7, abs=1e-5)
            assert p.min == a.min() and p.max == a.max()
