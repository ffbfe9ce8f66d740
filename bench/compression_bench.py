"""Compression benchmark (full edition only): label ingest into compressed vs uncompressed history, and the
refresh after a late batch with half of the history compressed vs none — measured in the same run on two
databases that differ only in compression. Not a test; results go to bench/results/compression.md.

    .venv/bin/python bench/compression_bench.py --url postgresql://postgres@127.0.0.1:55600/driftline

Builds `driftline_cbench_c` (the older half of the days compressed) and `driftline_cbench_u` (nothing
compressed) from one loaded and refreshed database (CREATE DATABASE … TEMPLATE), then measures on both:
- label batches through the engine's ingest service (`IngestService.log_labels`) into the older half: every
  unlabelled prediction of one day, 10 % of three days, 1 % and 0.1 % of ten days — with and without the
  prediction's `time` — and the apply of the labels they left pending (`dl_apply_pending_labels`, what the
  next refresh runs first) —
  and, for reference, 10 % of three recent (uncompressed) days. Each batch runs in a transaction that is
  rolled back, so every measurement starts from the same state. Also the label statement before this
  change (an UPDATE joined on the id with no time bound), on the compressed database with the
  decompression limit lifted, and what it answers with the default limit;
- the refresh (`engine.rollups.refresher.refresh`) after a late batch, committed: labels in ten scattered
  hours of the recent half, labels in ten scattered hours of the compressed half, 0.1 % and 1 % of ten
  compressed days labelled, 2,000 late predictions in
  ten hours of the compressed half; and the first of these again with JIT left on (the refresher before
  this change).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402

from engine.ingest.service import IngestService  # noqa: E402
from engine.rollups import refresher  # noqa: E402
from engine.store.unit import UnitOfWork  # noqa: E402
from tests.conftest import alembic_config, create_database, drop_database  # noqa: E402

START = datetime(2026, 2, 2, tzinfo=UTC)
OLD_LABEL_SQL = """
UPDATE predictions p SET label_class = s.label_class, label_value = s.label_value, label_time = s.label_time
FROM labels_stage s
WHERE p.model_id = $1 AND p.prediction_id = s.prediction_id AND (s.time_hint IS NULL OR p.time = s.time_hint)
"""


class Rollback(Exception):
    pass


async def load(url: str, days: int, per_day: int) -> None:
    """One binary model, 2 versions x 3 regions, 2 numeric + 1 categorical feature with active baselines,
    20 % labelled at ingest; `per_day` predictions a day, evenly spread, for `days` days."""
    conn = await asyncpg.connect(url)
    try:
        mid = await conn.fetchval("INSERT INTO models (name, task, class_labels, dimensions)"
                                  " VALUES ('m', 'binary', '{neg,pos}', '{region}') RETURNING id")
        for ordinal, (name, kind, pos) in enumerate((("x1", "numeric", 1), ("x2", "numeric", 2),
                                                     ("color", "categorical", 1)), 1):
            await conn.execute("INSERT INTO model_features (model_id, name, kind, position, ordinal)"
                               " VALUES ($1, $2, $3, $4, $5)", mid, name, kind, pos, ordinal)
        v1 = await conn.fetchval("INSERT INTO model_versions (model_id, version) VALUES ($1, 'v1') RETURNING id", mid)
        v2 = await conn.fetchval("INSERT INTO model_versions (model_id, version) VALUES ($1, 'v2') RETURNING id", mid)
        await conn.execute("INSERT INTO feature_baselines (model_id, feature, kind, edges, lower, upper)"
                           " VALUES ($1, 'x1', 'numeric', '{-2,-1,0,1,2}', -4, 4)", mid)
        await conn.execute("INSERT INTO feature_baselines (model_id, feature, kind, categories)"
                           " VALUES ($1, 'color', 'categorical', '{red,green,blue}')", mid)
        await conn.execute("SELECT setseed(0.42)")
        for d in range(days):
            await conn.execute(
                """
                INSERT INTO predictions (time, model_id, version_id, prediction_id, predicted_class, score,
                                         latency_ms, segments, num_features, cat_features, label_class, label_time)
                SELECT t, $3::int, CASE WHEN random() < 0.5 THEN $4::int ELSE $5::int END, 'p' || ($1::int * $2::int + i),
                       CASE WHEN s >= 0.5 THEN 'pos' ELSE 'neg' END, s, exp(2 + random() * 2),
                       jsonb_build_object('region', (ARRAY['eu', 'us', 'ap'])[1 + floor(random() * 3)::int]),
                       ARRAY[(random() - 0.5) * 6, random() * 3],
                       ARRAY[(ARRAY['red', 'green', 'blue', 'mauve'])[1 + floor(random() * 4)::int]],
                       CASE WHEN lab THEN CASE WHEN random() < s THEN 'pos' ELSE 'neg' END END,
                       CASE WHEN lab THEN t + interval '1 hour' END
                FROM (SELECT i, random() AS s, random() < 0.2 AS lab,
                             $6::timestamptz + ($1::int * 86400 + i * 86400.0 / $2::int) * interval '1 second' AS t
                      FROM generate_series(0, $2::int - 1) i) g
                """,
                d, per_day, mid, v1, v2, START,
            )
    finally:
        await conn.close()


def day(d: int) -> datetime:
    return START + timedelta(days=d)


async def _ids(conn: asyncpg.Connection, lo: datetime, hi: datetime, share: float) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT prediction_id, time FROM predictions WHERE model_id = 1 AND time >= $1 AND time < $2"
        " AND label_time IS NULL AND (hashtext(prediction_id) & 65535) < $3 ORDER BY time", lo, hi, round(share * 65536))


async def rows_outside_columnstore(conn: asyncpg.Connection) -> int:
    """Rows in the uncompressed part of compressed chunks: what DML has decompressed (or inserted) there."""
    names = await conn.fetch("SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks"
                             " WHERE hypertable_name = 'predictions' AND is_compressed")
    return sum([await conn.fetchval(f"SELECT count(*) FROM ONLY {r[0]}") for r in names])


async def label_case(url: str, lo: datetime, hi: datetime, share: float, hint: bool) -> dict[str, Any]:
    """One label batch through the ingest service, then (in the same transaction) the apply of what it
    left pending, as the next refresh does it; rolled back. Labels per second of the ingest (what the
    client waits for)."""
    conn = await asyncpg.connect(url)
    try:
        targets = await _ids(conn, lo, hi, share)
        rows = [{"prediction_id": r["prediction_id"], "label": "pos"} | ({"time": r["time"]} if hint else {})
                for r in targets]
        seconds = 0.0
        decompressed = 0
        try:
            async with conn.transaction():
                before = await rows_outside_columnstore(conn)
                t = time.perf_counter()
                result = await IngestService(UnitOfWork(conn), max_batch_rows=10**6).log_labels("m", rows)
                seconds = time.perf_counter() - t
                assert result.written == len(rows), result
                decompressed = await rows_outside_columnstore(conn) - before
                pending = await conn.fetchval("SELECT count(*) FROM pending_labels")
                t = time.perf_counter()
                applied = await conn.fetchval("SELECT dl_apply_pending_labels(1)")
                apply_s = time.perf_counter() - t
                assert applied == pending, (applied, pending)
                apply_decompressed = await rows_outside_columnstore(conn) - before - decompressed
                raise Rollback
        except Rollback:
            pass
        return {"labels": len(rows), "seconds": round(seconds, 3), "labels_per_s": round(len(rows) / seconds),
                "rows_decompressed": decompressed, "pending": pending, "apply_s": round(apply_s, 3),
                "apply_rows_decompressed": apply_decompressed}
    finally:
        await conn.close()


async def old_statement(url: str, lo: datetime, hi: datetime, share: float, lift: bool) -> dict[str, Any]:
    """The label statement before this change, on the same labels, rolled back."""
    conn = await asyncpg.connect(url)
    try:
        targets = await _ids(conn, lo, hi, share)
        try:
            async with conn.transaction():
                await conn.execute("CREATE TEMP TABLE labels_stage (row_index int, prediction_id text, label_class text,"
                                   " label_value float8, label_time timestamptz, time_hint timestamptz) ON COMMIT DROP")
                await conn.copy_records_to_table(
                    "labels_stage", records=[(i, r["prediction_id"], "pos", None, datetime.now(UTC), None)
                                             for i, r in enumerate(targets)])
                if lift:
                    await conn.execute("SET LOCAL timescaledb.max_tuples_decompressed_per_dml_transaction = 0")
                t = time.perf_counter()
                status = await conn.execute(OLD_LABEL_SQL, 1)
                seconds = time.perf_counter() - t
                raise Rollback(status)
        except Rollback as done:
            return {"labels": len(targets), "seconds": round(seconds, 3), "status": str(done)}
        except asyncpg.PostgresError as exc:
            return {"labels": len(targets), "error": f"{type(exc).__name__}: {exc}"}
    finally:
        await conn.close()


async def timed_refresh(url: str, jit_as_before: bool = False) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    saved = refresher._without_jit
    try:
        if jit_as_before:  # the refresher before this change left the server's JIT setting alone
            refresher._without_jit = _keep_jit  # type: ignore[assignment]
        report = await refresher.refresh(UnitOfWork(conn))
        return {k: report.to_dict()[k] for k in ("seconds", "records", "minutes", "labels_applied")}
    finally:
        refresher._without_jit = saved  # type: ignore[assignment]
        await conn.close()


class _keep_jit:
    def __init__(self, conn: asyncpg.Connection) -> None:
        del conn

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def scattered_hours(first_day: int, salt: int) -> list[datetime]:
    return [day(first_day + i) + timedelta(hours=(7 * i + salt) % 24) for i in range(10)]


async def late_labels(url: str, hours: list[datetime], per_hour: int) -> int:
    conn = await asyncpg.connect(url)
    try:
        n = 0
        async with conn.transaction():
            for h in hours:
                targets = await _ids(conn, h, h + timedelta(hours=1), 1.0)
                rows = [{"prediction_id": r["prediction_id"], "label": "neg"} for r in targets[:per_hour]]
                n += (await IngestService(UnitOfWork(conn)).log_labels("m", rows)).written
        return n
    finally:
        await conn.close()


async def sparse_labels(url: str, lo: datetime, hi: datetime, share: float) -> int:
    conn = await asyncpg.connect(url)
    try:
        rows = [{"prediction_id": r["prediction_id"], "label": "pos"} for r in await _ids(conn, lo, hi, share)]
        async with conn.transaction():
            return (await IngestService(UnitOfWork(conn)).log_labels("m", rows)).written
    finally:
        await conn.close()


async def late_predictions(url: str, hours: list[datetime], per_hour: int, tag: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        rows = [{"prediction_id": f"late-{tag}-{k}-{i}", "time": h + timedelta(seconds=3600 * i / per_hour),
                 "score": (i % 97) / 97, "segments": {"region": "eu"},
                 "features": {"x1": (i % 11) / 2 - 2.5, "x2": 1.0, "color": "red"}}
                for k, h in enumerate(hours) for i in range(per_hour)]
        result = await IngestService(UnitOfWork(conn)).log_predictions("m", rows, version="v1")
        return result.written
    finally:
        await conn.close()


async def both(fn: Callable[[str], Awaitable[Any]], urls: dict[str, str]) -> dict[str, Any]:
    out = {name: await fn(url) for name, url in urls.items()}
    c, u = out["compressed"], out["uncompressed"]
    if isinstance(c, dict) and "seconds" in c and "seconds" in u and u["seconds"]:
        out["ratio_compressed_to_uncompressed"] = round(c["seconds"] / u["seconds"], 2)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="any database on a full-edition cluster")
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--per-day", type=int, default=30_000)
    ap.add_argument("--keep", action="store_true", help="keep the two databases")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "compression.json")
    args = ap.parse_args()
    conn = await asyncpg.connect(args.url)
    license_ = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    versions = await conn.fetchrow("SELECT version() AS pg, (SELECT extversion FROM pg_extension"
                                   " WHERE extname = 'timescaledb') AS ts")
    await conn.close()
    if license_ != "timescale":
        raise SystemExit(f"{args.url}: timescaledb.license={license_!r}; this benchmark needs the full edition")
    half = args.days // 2
    names = {"compressed": "driftline_cbench_c", "uncompressed": "driftline_cbench_u"}
    for n in (*names.values(), "driftline_cbench_base"):
        await drop_database(args.url, n)
    results: dict[str, Any] = {"postgres": versions["pg"], "timescaledb": versions["ts"], "days": args.days,
                               "per_day": args.per_day, "compressed_days": half}
    t = time.perf_counter()
    base = await create_database(args.url, "driftline_cbench_base")
    c = await asyncpg.connect(base)
    await c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    await c.close()
    await asyncio.to_thread(command.upgrade, alembic_config(base), "head")
    await load(base, args.days, args.per_day)
    results["load_s"] = round(time.perf_counter() - t, 1)
    results["initial_refresh"] = await timed_refresh(base)
    urls = {k: await create_database(args.url, n, template="driftline_cbench_base") for k, n in names.items()}
    await drop_database(args.url, "driftline_cbench_base")
    c = await asyncpg.connect(urls["compressed"])
    t = time.perf_counter()
    results["compressed_chunks"] = await c.fetchval(
        "SELECT count(compress_chunk(ch)) FROM show_chunks('predictions', older_than => $1::timestamptz) ch", day(half))
    results["compress_s"] = round(time.perf_counter() - t, 1)
    await c.close()
    for url in urls.values():
        c = await asyncpg.connect(url)
        await c.execute("ANALYZE")
        await c.close()
    print(json.dumps(results), flush=True)

    old = (day(2), day(half - 2))
    cases = {
        "labels: one whole old day": (day(3), day(4), 1.0),
        "labels: 10 % of three old days": (day(3), day(6), 0.1),
        "labels: 1 % of ten old days": (*old, 0.01),
        "labels: 0.1 % of ten old days": (*old, 0.001),
        "labels: 10 % of three recent days (uncompressed in both)": (day(half + 3), day(half + 6), 0.1),
    }
    labels: dict[str, Any] = {}
    for name, (lo, hi, share) in cases.items():
        for hint in (False, True):
            key = f"{name}{', with time' if hint else ''}"
            labels[key] = await both(lambda u, lo=lo, hi=hi, s=share, h=hint: label_case(u, lo, hi, s, h), urls)
            print(key, json.dumps(labels[key]), flush=True)
    results["labels"] = labels
    results["old_label_statement"] = {
        "1 % of ten old days, compressed, default limit": await old_statement(urls["compressed"], *old, 0.01, False),
        "1 % of ten old days, compressed, limit lifted": await old_statement(urls["compressed"], *old, 0.01, True),
        "1 % of ten old days, uncompressed": await old_statement(urls["uncompressed"], *old, 0.01, False),
    }
    print(json.dumps(results["old_label_statement"]), flush=True)

    refreshes: dict[str, Any] = {}
    batches: list[tuple[str, Callable[[str], Awaitable[int]], bool]] = [
        ("10 late labels in 10 scattered recent hours", lambda u: late_labels(u, scattered_hours(half + 1, 3), 1), False),
        ("same, JIT left on (the refresher before)", lambda u: late_labels(u, scattered_hours(half + 2, 5), 1), True),
        ("1,000 late labels in 10 scattered compressed hours",
         lambda u: late_labels(u, scattered_hours(2, 11), 100), False),
        ("0.1 % of ten compressed days labelled (sparse)",
         lambda u: sparse_labels(u, day(2), day(half - 2), 0.001), False),
        ("1 % of ten compressed days labelled (sparse)",
         lambda u: sparse_labels(u, day(2), day(half - 2), 0.01), False),
        ("2,000 late predictions in 10 compressed hours",
         lambda u: late_predictions(u, scattered_hours(3, 17), 200, "a"), False),
    ]
    for name, write, jit_on in batches:
        written = {k: await write(u) for k, u in urls.items()}
        refreshes[name] = await both(lambda u, j=jit_on: timed_refresh(u, j), urls)
        refreshes[name]["written"] = written
        print(name, json.dumps(refreshes[name]), flush=True)
    results["refresh_after_late_batch"] = refreshes
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if not args.keep:
        for n in names.values():
            await drop_database(args.url, n)


if __name__ == "__main__":
    asyncio.run(main())
