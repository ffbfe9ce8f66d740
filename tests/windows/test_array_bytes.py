"""Window arrays travel as their stored bytes (`dl_array_bytes`, migration 0015) where the function exists,
else as `array_send`: both forms give the same merged windows, equal to the arrays PostgreSQL decodes
itself and to the raw rows; a database without the function (a non-superuser migration, or one dropped
later) or with an impostor of that name is read through `array_send`; NULL elements are refused, not misread."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import asyncpg
import numpy as np
import pytest

import engine.store.window_reads as reader
from engine.services.windows import WindowsService
from engine.store.unit import UnitOfWork, unit_from_pool
from engine.windows.merge import (
    Merged,
    _column_matrix,
    _placed_matrix,
    decode_array,
)
from engine.windows.spec import FEATURES, PREDICTIONS, PREDICTIONS_BY_MODEL, PREDICTIONS_BY_VERSION
from tests.conftest import refresh_windows
from tests.windows.streams import (
    PRED_COLUMNS,
    T0,
    copy_predictions,
    create_model,
    prediction_rows,
    raw_predictions,
)
from tests.windows.test_metrics_oracle import check_series

pytestmark = pytest.mark.asyncio
UP_SQL = Path(__file__).resolve().parents[2] / "sql" / "schema" / "0015_array_bytes.up.sql"


def _assert_same(a: Merged, b: Merged, what: str) -> None:
    assert a.buckets == b.buckets and a.groups == b.groups, what
    assert a.columns.keys() == b.columns.keys(), what
    for col, x in a.columns.items():
        y = b.columns[col]
        assert np.array_equal(a.present[col], b.present[col]), f"{what} {col} present"
        if isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray) and np.array_equal(x, y, equal_nan=True), f"{what} {col}"
        else:
            assert len(x) == len(y), f"{what} {col}"
            for p, q in zip(x, y, strict=True):
                assert (p is None and q is None) or np.array_equal(p, q, equal_nan=True), f"{what} {col}"


async def _read_both(snap_pool: asyncpg.Pool, read: reader.WindowRead, monkeypatch: pytest.MonkeyPatch) -> Merged:
    """`read` through the stored bytes and through array_send: equal; the first returned."""
    out = []
    for form in ("dl_array_bytes", "array_send"):

        async def forced(conn: asyncpg.Connection, form: str = form) -> str:
            return form

        monkeypatch.setattr(reader, "array_bytes_function", forced)
        async with unit_from_pool(snap_pool) as uow, uow.snapshot() as snap:
            [got] = await reader.read_windows(snap, [read])
        out.append(got)
    monkeypatch.undo()
    _assert_same(out[0], out[1], f"{read.family.name} {read.level} {read.group}")
    return out[0]


async def test_both_wire_forms_merge_alike_and_equal_the_stored_arrays(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(41)
    extremes = [0.0, 1e-9, 0.01, 10 ** (-2 + 7 / 140), 99_999.9, 1e5, 3e7, None]
    at = PRED_COLUMNS.index("latency_ms")
    async with pool.acquire() as conn:
        assert await reader.array_bytes_function(conn) == "dl_array_bytes"  # the migrated test database has it
        models = [
            await create_model(conn, "bin", "binary", ["neg", "pos"]),
            await create_model(conn, "multi", "multiclass", ["a", "b", "c"]),
            await create_model(conn, "reg", "regression"),
        ]
        for m in models:
            rows = prediction_rows(rng, m, 900, minutes=240, labeled=0.6)
            rows = [
                (*r[:at], extremes[i % len(extremes)] if i % 5 == 0 else r[at], *r[at + 1 :])
                for i, r in enumerate(rows)
            ]
            await copy_predictions(conn, rows)
    await refresh_windows(pool)
    async with pool.acquire() as conn:  # a pending tail, read from raw rows
        for m in models:
            await copy_predictions(conn, prediction_rows(rng, m, 100, minutes=240, id_prefix="t", labeled=0.6))
    start, end = T0 + timedelta(minutes=7), T0 + timedelta(hours=3, minutes=41)
    for m in models:
        reads = [
            reader.WindowRead(PREDICTIONS, "1m", m.id, start, end, reader.GroupBy("segment", "region")),
            reader.WindowRead(PREDICTIONS, "1h", m.id, start, end, (reader.GroupBy("version"), reader.GroupBy("segment", "region"))),
            reader.WindowRead(PREDICTIONS_BY_VERSION, "1m", m.id, T0, T0 + timedelta(hours=4), reader.GroupBy("version"), granularity="15m"),
            reader.WindowRead(PREDICTIONS_BY_MODEL, "1h", m.id, T0, T0 + timedelta(hours=4)),
        ]
        for read in reads:
            await _read_both(pool, read, monkeypatch)
        # against the arrays PostgreSQL decodes itself, per 1m bucket and region (refreshed range only)
        await refresh_windows(pool)
        read = reader.WindowRead(PREDICTIONS, "1m", m.id, T0, T0 + timedelta(hours=4), reader.GroupBy("segment", "region"))
        got = await _read_both(pool, read, monkeypatch)
        async with pool.acquire() as conn:
            stored = await conn.fetch(
                "SELECT bucket, segment ->> 'region' AS grp, dl_sum_counts(latency_hist) AS latency_hist,"
                " dl_sum_counts(class_counts) AS class_counts, dl_sum_counts(confusion) AS confusion,"
                " dl_sum_counts(score_hist_pos) AS score_hist_pos, sum(n)::int8 AS n, max(latency_max) AS latency_max"
                " FROM predictions_1m WHERE model_id = $1 GROUP BY 1, 2 ORDER BY 1, 2",
                m.id,
            )
        assert len(stored) == len(got) > 100
        for i, s in enumerate(stored):
            assert (got.buckets[i], got.groups[i]) == (s["bucket"], s["grp"])
            assert got.columns["n"][i] == s["n"]
            for col in ("latency_hist", "class_counts", "confusion", "score_hist_pos"):
                if s[col] is None:
                    assert not got.present[col][i], col
                else:
                    value = got.columns[col][i]
                    assert np.asarray(value).tolist() == list(s[col]), f"{m.task} {col} at {s['bucket']}"
            if s["latency_max"] is None:
                assert np.isnan(got.columns["latency_max"][i])
            else:
                assert got.columns["latency_max"][i] == s["latency_max"]


async def test_database_without_the_function_reads_through_array_send(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    rng = np.random.default_rng(42)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        await copy_predictions(conn, prediction_rows(rng, m, 1200, minutes=300, labeled=0.5))
        await conn.execute("DROP FUNCTION dl_array_bytes(anyarray)")
    await refresh_windows(pool)
    await pool.expire_connections()  # the probe is per connection: new ones see the function gone
    async with pool.acquire() as conn:
        assert await reader.array_bytes_function(conn) == "array_send"
        raw = await raw_predictions(conn, m.id)
    series = await WindowsService(uow).model_metrics(
        m.name, T0, T0 + timedelta(hours=5), granularity="1h", group_by="region"
    )
    assert check_series(m, series, raw, "1h", key=lambda r: json.loads(r["segments"]).get("region")) > 50


async def test_an_impostor_function_is_not_trusted(pool: asyncpg.Pool) -> None:
    """A `dl_array_bytes` that gives another layout (here array_send's own) is probed and not used."""
    async with pool.acquire() as conn:
        await conn.execute("DROP FUNCTION dl_array_bytes(anyarray)")
        await conn.execute(
            "CREATE FUNCTION dl_array_bytes(anyarray) RETURNS bytea LANGUAGE sql IMMUTABLE AS 'SELECT array_send($1)'"
        )
    await pool.expire_connections()
    async with pool.acquire() as conn:
        assert await reader.array_bytes_function(conn) == "array_send"


async def test_migration_as_a_non_superuser_creates_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("DROP FUNCTION dl_array_bytes(anyarray)")
        role = f"dl_plain_{abs(hash(conn)) % 10**8}"
        await conn.execute(f"CREATE ROLE {role}")  # a test-made name, not request input
        await conn.execute(f"GRANT CREATE ON SCHEMA public TO {role}")
        notices: list[str] = []
        conn.add_log_listener(lambda _c, msg: notices.append(str(msg)))
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL ROLE {role}")
                await conn.execute(UP_SQL.read_text())
        finally:
            await conn.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")
            await conn.execute(f"DROP ROLE {role}")
        assert await conn.fetchval("SELECT to_regprocedure('dl_array_bytes(anyarray)')") is None
        assert any("not a superuser" in n for n in notices), notices
        await conn.execute(UP_SQL.read_text())  # as the superuser it is created
        assert await conn.fetchval("SELECT to_regprocedure('dl_array_bytes(anyarray)')") is not None


async def test_null_elements_are_refused_in_the_stored_form(pool: asyncpg.Pool) -> None:
    """The stored form of an array with NULLs carries a bitmap before the values: refused, never misread;
    arrays without NULLs decode to PostgreSQL's own values in both forms. Histogram slices (what a read
    trims with `array_send`) are placed from `array_send` bytes only."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT dl_array_bytes(ARRAY[1, NULL, 3]::int8[]) AS holed,"
            " dl_array_bytes(ARRAY[5, -7, 9007199254740993]::int8[]) AS raw, array_send(ARRAY[5, -7, 9007199254740993]::int8[]) AS sent,"
            " dl_array_bytes(ARRAY[0.5, -1e300, 'NaN']::float8[]) AS fraw, array_send(ARRAY[0.5, -1e300, 'NaN']::float8[]) AS fsent,"
            " dl_array_bytes('{}'::int8[]) AS empty, dl_array_bytes((ARRAY[1, 2, 3, 4]::int8[])[2:3]) AS slice"
        )
    with pytest.raises(ValueError, match="NULL"):
        _column_matrix([row["holed"], row["holed"]])
    with pytest.raises(ValueError, match="NULL"):
        decode_array(row["holed"])
    with pytest.raises(ValueError, match="array_send"):
        _placed_matrix([row["raw"]], [1], [3])
    assert _placed_matrix([row["sent"], None], [2, None], [5, 5]).tolist() == [[0, 5, -7, 9007199254740993, 0], [0] * 5]
    for form in ("raw", "sent"):
        assert decode_array(row[form]).tolist() == [5, -7, 9007199254740993]
        assert _column_matrix([row[form], None, row[form]]).tolist() == [[5, -7, 9007199254740993], [0, 0, 0], [5, -7, 9007199254740993]]
    for form in ("fraw", "fsent"):
        got = decode_array(row[form], "f8")
        assert got is not None and got[:2].tolist() == [0.5, -1e300] and np.isnan(got[2])
    assert decode_array(row["empty"]).tolist() == []
    assert decode_array(row["slice"]).tolist() == [2, 3]
    with pytest.raises(ValueError, match="known wire form"):
        decode_array(row["fraw"])  # a float8[] is not read as bigint[]


async def test_feature_windows_both_forms(pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Feature windows (count arrays of several lengths, float8 per-bin sums) merge alike in both forms."""
    rng = np.random.default_rng(43)
    async with pool.acquire() as conn:
        m = await create_model(conn, "bin", "binary", ["neg", "pos"])
        await copy_predictions(conn, prediction_rows(rng, m, 1500, minutes=180))
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, edges, lower, upper) VALUES ($1, 'x1', 'numeric', $2, -3, 3)",
            m.id,
            [-1.5, -0.5, 0.0, 0.5, 1.5],
        )
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, categories) VALUES ($1, 'color', 'categorical', $2)",
            m.id,
            ["red", "green", "blue"],
        )
        baseline_ids = tuple(await conn.fetch("SELECT id FROM feature_baselines WHERE model_id = $1", m.id))
    await refresh_windows(pool)
    read = reader.WindowRead(
        FEATURES, "1m", m.id, T0, T0 + timedelta(hours=3), reader.GroupBy("feature"),
        baseline_ids=tuple(r["id"] for r in baseline_ids), granularity="15m",
    )
    got = await _read_both(pool, read, monkeypatch)
    assert len(got) == 24  # 12 quarter-hours x 2 features
    assert got.present["bin_sums"].any() and isinstance(got.columns["counts"], list)
