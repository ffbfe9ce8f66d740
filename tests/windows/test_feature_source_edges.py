"""The feature window SQL (`feature_bins.feature_source_sql`: one materialised pass over the rows, per-bin
sums by one GROUP BY over (minute, feature bin) with zeros for empty bins) on the edges of its input,
against a plain-Python reference on the raw rows: NULL and NaN values (missing), values exactly on bin
edges (and -0.0 on the edge 0.0), +Infinity, out-of-range values and values on the range's bounds, rows
whose feature array is shorter than a feature's position, a minute where a numeric feature has no
present value (zero counts and sums, NULL moments), unseen and empty-string categories, and a model
whose baseline has categorical features only. Checked on the stored 1m / 1h / 1d windows after a refresh
and on the SQL as the read path runs it for a range not yet refreshed."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest

from engine.store.feature_bins import Params, active_baselines, feature_source_sql
from tests.conftest import refresh_windows
from tests.windows.oracle import bucket_of
from tests.windows.streams import T0, create_model

pytestmark = pytest.mark.asyncio
NAN, INF = float("nan"), float("inf")
X1_EDGES = [-1.0, 0.0, 1.5]  # bins (-inf, -1), [-1, 0), [0, 1.5), [1.5, inf); range [-3, 3]
X2_EDGES = [0.0, 10.0]  # no range
COLORS = ["red", "green", "blue"]
COLUMNS = ["time", "model_id", "version_id", "prediction_id", "num_features", "cat_features"]

# (second offset from T0, num_features, cat_features)
HAND: list[tuple[float, list[float | None] | None, list[str | None] | None]] = [
    (1, [-1.0, 0.0], ["red"]),  # both on an edge: bin of the edge (width_bucket / searchsorted right)
    (2, [0.0, 10.0], ["green"]),
    (3, [1.5, -0.0], ["blue"]),  # -0.0 == 0.0: the bin of the edge 0.0
    (4, [None, None], [None]),  # missing everywhere
    (5, [NAN, NAN], ["mauve"]),  # NaN is missing; an unseen category is out of range
    (6, [-3.0, INF], [""]),  # on the lower bound (in range); +Infinity in the last bin
    (7, [3.0, -INF], ["red"]),  # on the upper bound (in range); -Infinity in the first bin
    (8, [-5.0, 1e150], ["red"]),  # below the range (magnitudes whose squares stay finite and non-zero)
    (9, [4.0, -1e-150], ["red"]),  # above the range
    (10, [0.25], []),  # shorter arrays: x2 and color missing
    (11, None, None),  # no feature arrays at all
    (65, [0.5, None], ["blue"]),  # minute 2: x2 never present
    (70, [0.7, NAN], ["blue"]),
    (3700, [2.0, 5.0], ["green"]),  # next hour
]


def _rows(model: Any, rng: np.random.Generator, n: int) -> list[tuple[Any, ...]]:
    out = []
    vid = next(iter(model.versions.values()))
    for i, (sec, num, cat) in enumerate(HAND):
        out.append((T0 + timedelta(seconds=sec), model.id, vid, f"h{i}", num, cat))
    grid = np.array([-3.0, -1.0, 0.0, 1.5, 3.0, 10.0])  # edges and bounds, drawn often
    for i in range(n):
        t = T0 + timedelta(seconds=float(rng.uniform(300, 3 * 3600)))  # minutes 0-4: hand-made rows only
        num: list[float | None] = [
            float(rng.choice(grid)) if rng.random() < 0.3 else float(rng.normal(0, 2)) for _ in range(2)
        ]
        for j in range(2):
            if rng.random() < 0.05:
                num[j] = None if rng.random() < 0.5 else NAN
        cat = [None if rng.random() < 0.05 else str(rng.choice([*COLORS, "mauve"]))]
        out.append((t, model.id, vid, f"r{i}", num, cat))
    return out


def _reference(raw: list[asyncpg.Record], level: str, numeric_too: bool) -> dict[tuple[datetime, str], dict[str, Any]]:
    by_bucket: dict[datetime, list[asyncpg.Record]] = defaultdict(list)
    for r in raw:
        by_bucket[bucket_of(r["time"], level)].append(r)
    out: dict[tuple[datetime, str], dict[str, Any]] = {}
    with np.errstate(invalid="ignore"):  # +Infinity and -Infinity in one bucket: their sum is NaN, as in SQL
        for b, rows in by_bucket.items():
            out.update(_reference_bucket(b, rows, numeric_too))
    return out


def _reference_bucket(b: datetime, rows: list[asyncpg.Record], numeric_too: bool) -> dict[tuple[datetime, str], dict[str, Any]]:
    out: dict[tuple[datetime, str], dict[str, Any]] = {}
    if numeric_too:
        for pos, name, edges, bounds in ((1, "x1", X1_EDGES, (-3.0, 3.0)), (2, "x2", X2_EDGES, None)):
            xs = [(r["num_features"] or [])[pos - 1] if len(r["num_features"] or []) >= pos else None for r in rows]
            present = np.array([x for x in xs if x is not None and not math.isnan(x)], dtype=np.float64)
            idx = np.searchsorted(np.asarray(edges), present, side="right")
            k = len(edges) + 1
            out[(b, name)] = {
                "n": len(rows),
                "missing": len(xs) - present.size,
                "out_of_range": int(((present < bounds[0]) | (present > bounds[1])).sum()) if bounds else 0,
                "counts": np.bincount(idx, minlength=k).tolist(),
                "bin_sums": [float(present[idx == j].sum()) for j in range(k)],
                "value_sum": float(present.sum()) if present.size else None,
                "value_sumsq": float((present * present).sum()) if present.size else None,
                "value_min": float(present.min()) if present.size else None,
                "value_max": float(present.max()) if present.size else None,
            }
    cs = [(r["cat_features"] or [None])[0] if r["cat_features"] else None for r in rows]
    out[(b, "color")] = {
        "n": len(rows),
        "missing": sum(c is None for c in cs),
        "out_of_range": sum(c is not None and c not in COLORS for c in cs),
        "counts": [cs.count(c) for c in COLORS],
        "bin_sums": None,
        "value_sum": None,
        "value_sumsq": None,
        "value_min": None,
        "value_max": None,
    }
    return out


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
            return (math.isnan(a) and math.isnan(b)) or a == b
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    return bool(a == b)


def _check(got: dict[tuple[datetime, str], dict[str, Any]], want: dict[tuple[datetime, str], dict[str, Any]], what: str) -> None:
    assert got.keys() == want.keys(), what
    for key, w in want.items():
        for col, v in w.items():
            assert _close(got[key][col], v), (what, key, col, got[key][col], v)


def _as_dict(rows: list[asyncpg.Record]) -> dict[tuple[datetime, str], dict[str, Any]]:
    cols = ("n", "missing", "out_of_range", "counts", "bin_sums", "value_sum", "value_sumsq", "value_min", "value_max")
    return {
        (r["bucket"], r["feature"]): {c: (list(r[c]) if c in ("counts", "bin_sums") and r[c] is not None else r[c]) for c in cols}
        for r in rows
    }


@pytest.mark.parametrize("numeric_too", [True, False], ids=["numeric+categorical", "categorical-only"])
async def test_feature_windows_on_edge_values_equal_reference(pool: asyncpg.Pool, numeric_too: bool) -> None:
    rng = np.random.default_rng(1313)
    async with pool.acquire() as conn:
        m = await create_model(conn, f"edges_{int(numeric_too)}", "binary", ["neg", "pos"])
        await conn.copy_records_to_table("predictions", records=_rows(m, rng, 3000), columns=COLUMNS)
        if numeric_too:
            await conn.execute(
                "INSERT INTO feature_baselines (model_id, feature, kind, edges, lower, upper) VALUES"
                " ($1, 'x1', 'numeric', $2, -3, 3), ($1, 'x2', 'numeric', $3, NULL, NULL)",
                m.id, X1_EDGES, X2_EDGES,
            )
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, categories) VALUES ($1, 'color', 'categorical', $2)",
            m.id, COLORS,
        )
        raw = await conn.fetch("SELECT * FROM predictions WHERE model_id = $1", m.id)
        # the read path's SQL over a range not yet refreshed
        baselines = await active_baselines(conn, m.id)
        p = Params()
        sql = feature_source_sql(baselines, p, p(m.id, "integer"), p(T0 - timedelta(hours=1)), p(T0 + timedelta(hours=4)))
        _check(_as_dict(await conn.fetch(sql, *p.values)), _reference(raw, "1m", numeric_too), "pending 1m")
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        for level in ("1m", "1h", "1d"):
            stored = await conn.fetch(f"SELECT * FROM feature_hist_{level} WHERE model_id = $1", m.id)
            _check(_as_dict(stored), _reference(raw, level, numeric_too), f"stored {level}")
        # the hand-made minute where x2 has no present value: zero counts and sums, NULL moments
        quiet = await conn.fetchrow(
            "SELECT counts, bin_sums, value_sum, value_min FROM feature_hist_1m WHERE model_id = $1 AND feature = 'x2'"
            " AND bucket = $2", m.id, T0 + timedelta(minutes=1),
        )
        if numeric_too:
            assert quiet is not None
            assert list(quiet["counts"]) == [0, 0, 0] and list(quiet["bin_sums"]) == [0.0, 0.0, 0.0]
            assert quiet["value_sum"] is None and quiet["value_min"] is None
