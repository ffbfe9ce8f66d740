"""The full edition at production age: two and a half weeks of predictions per model, the older two weeks
compressed (more than 100,000 compressed rows per model), then labels for compressed and uncompressed predictions, deletes,
late predictions into compressed ranges and one refresh — and every window equals scikit-learn / numpy on
the raw rows. Also: label and delete statements decompress only the batches that hold their rows.

Needs DRIFTLINE_FULL_TEST_DATABASE_URL (see tests/windows/conftest.py); skipped with the reason otherwise.
A few minutes on two cores (the timings are printed with `-s`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest

from engine.ingest.service import IngestService
from engine.services.predictions import PredictionService
from engine.services.windows import WindowsService
from engine.store.unit import unit_from_pool
from tests.conftest import refresh_windows
from tests.windows.streams import PRED_COLUMNS, Model, create_model, draw_label, raw_predictions
from tests.windows.test_features_and_custom import CATEGORIES, EDGES, expected_hist
from tests.windows.test_metrics_oracle import check_series

pytestmark = [pytest.mark.asyncio, pytest.mark.full_edition]
START = datetime(2026, 2, 2, tzinfo=UTC)  # a Monday; chunks are UTC days
DAYS = 17
COMPRESSED_DAYS = 14
PER_DAY = 7_500
SEGMENTS = [json.dumps({"region": r}) for r in ("eu", "us", "ap")] + [json.dumps({"req": "x"})]
COLORS = ["red", "green", "blue", "mauve", None]


def bulk_rows(rng: np.random.Generator, m: Model, n: int, start: datetime, seconds: float, prefix: str,
              labeled: float) -> list[tuple[Any, ...]]:
    """Rows in PRED_COLUMNS order, like streams.prediction_rows but vectorised (10⁵ rows in a second)."""
    offs = np.sort(rng.uniform(0, seconds, n))
    vids = np.array(list(m.versions.values()))[rng.integers(0, len(m.versions), n)]
    x1 = np.where(rng.random(n) > 0.05, rng.normal(0, 2, n), np.nan)
    x2 = rng.exponential(3, n)
    color = rng.integers(0, len(COLORS), n)
    seg = rng.integers(0, len(SEGMENTS), n)
    lat = np.where(rng.random(n) > 0.02, rng.lognormal(2.0, 1.0, n), np.nan)
    score = np.where(rng.random(n) > 0.03, rng.beta(2, 2, n), np.nan)
    value = rng.normal(10, 5, n)
    has_label = rng.random(n) < labeled
    delay = rng.uniform(1, 7200, n)
    rows = []
    for i in range(n):
        t = start + timedelta(seconds=float(offs[i]))
        s = None if np.isnan(score[i]) else float(score[i])
        if m.task == "binary":
            assert m.classes
            pc = m.classes[int(s >= m.threshold)] if s is not None else m.classes[i % 2]
            row: list[Any] = [t, m.id, int(vids[i]), f"{prefix}{i}", pc, None, s]
        else:
            row = [t, m.id, int(vids[i]), f"{prefix}{i}", None, float(value[i]), None]
        row += [None, None if np.isnan(lat[i]) else float(lat[i]), SEGMENTS[seg[i]],
                [None if np.isnan(x1[i]) else float(x1[i]), float(x2[i])], [COLORS[color[i]]], None, None, None]
        if has_label[i]:
            lc, lv = draw_label(rng, m, tuple(row))
            row[12], row[13], row[14] = lc, lv, t + timedelta(seconds=float(delay[i]))
        rows.append(tuple(row))
    return rows


class Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}

    @contextmanager
    def lap(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        yield
        self.laps[name] = round(time.perf_counter() - t, 2)


async def _compressed_chunks(conn: asyncpg.Connection) -> dict[datetime, tuple[str, int]]:
    """Compressed chunks of predictions by start: (name, rows in their uncompressed part)."""
    out = {}
    for r in await conn.fetch(
        "SELECT format('%I.%I', chunk_schema, chunk_name) AS name, range_start FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'predictions' AND is_compressed ORDER BY range_start"
    ):
        out[r["range_start"]] = (r["name"], await conn.fetchval(f"SELECT count(*) FROM ONLY {r['name']}"))
    return out


def _day(d: int) -> datetime:
    return START + timedelta(days=d)


async def test_production_age_history_stays_exact(full_pool: asyncpg.Pool) -> None:
    clock = Clock()
    rng = np.random.default_rng(2026)
    async with full_pool.acquire() as conn:
        fraud = await create_model(conn, "fraud", "binary", ["legit", "fraud"], threshold=0.5)
        price = await create_model(conn, "price", "regression", dims=("region",))
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, edges, lower, upper) VALUES ($1, 'x1', 'numeric', $2, -3, 3)",
            fraud.id, EDGES)
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, categories) VALUES ($1, 'color', 'categorical', $2)",
            fraud.id, CATEGORIES)
        with clock.lap("generate + copy"):
            for m in (fraud, price):
                rows = bulk_rows(rng, m, DAYS * PER_DAY, START, DAYS * 86400, "p", labeled=0.2)
                await conn.copy_records_to_table("predictions", records=rows, columns=PRED_COLUMNS)
    with clock.lap("initial refresh"):
        await refresh_windows(full_pool)
    async with full_pool.acquire() as conn:
        with clock.lap("compress"):
            await conn.execute("SELECT compress_chunk(c) FROM show_chunks('predictions', older_than => $1::timestamptz) c",
                               _day(COMPRESSED_DAYS))
        for m in (fraud, price):
            n = await conn.fetchval("SELECT count(*) FROM predictions WHERE model_id = $1 AND time < $2", m.id,
                                    _day(COMPRESSED_DAYS))
            assert n > 100_000
        before = await _compressed_chunks(conn)
        assert len(before) == COMPRESSED_DAYS and all(rows == 0 for _, rows in before.values())
        times = {m.id: {r["prediction_id"]: r["time"] for r in await conn.fetch(
            "SELECT prediction_id, time FROM predictions WHERE model_id = $1", m.id)} for m in (fraud, price)}
        unlabeled = {m.id: await conn.fetch(
            "SELECT prediction_id, time FROM predictions WHERE model_id = $1 AND label_time IS NULL ORDER BY time",
            m.id) for m in (fraud, price)}

    # Labels: weeks late into two hours of compressed days 3 and 9 (half without the prediction's time), and
    # into the uncompressed days; by the engine's ingest service, as one batch per model.
    def pick(model: Model, lo: datetime, hi: datetime, share: float) -> list[asyncpg.Record]:
        return [r for r in unlabeled[model.id] if lo <= r["time"] < hi and rng.random() < share]

    label_sets = {}
    for m in (fraud, price):
        targets = (pick(m, _day(3) + timedelta(hours=10), _day(3) + timedelta(hours=12), 0.3)
                   + pick(m, _day(9) + timedelta(hours=20), _day(9) + timedelta(hours=22), 0.05)
                   + pick(m, _day(10), _day(13), 0.005)  # sparse: a label in every few compressed batches
                   + pick(m, _day(COMPRESSED_DAYS), _day(DAYS), 0.1))
        batch = []
        for k, r in enumerate(targets):
            label = ("fraud" if rng.random() < 0.3 else "legit") if m.task == "binary" else float(rng.normal(10, 5))
            item: dict[str, Any] = {"prediction_id": r["prediction_id"], "label": label}
            if k % 2:
                item["time"] = r["time"].isoformat()
            batch.append(item)
        label_sets[m.id] = batch
    with clock.lap("labels"):
        for m in (fraud, price):
            async with unit_from_pool(full_pool) as uow:
                result = await IngestService(uow).log_labels(m.name, label_sets[m.id])
            assert result.written == len(label_sets[m.id]) > 1_000
    async with full_pool.acquire() as conn:
        # Labels into compressed chunks are acknowledged without decompressing anything: they wait in
        # pending_labels for the refresher, and reads of labels from raw rows see them already.
        after = await _compressed_chunks(conn)
        assert all(rows == 0 for _, rows in after.values()), after
        compressed_labels = {m.id: {r["prediction_id"]: r["label"] for r in label_sets[m.id]
                                    if times[m.id][r["prediction_id"]] < _day(COMPRESSED_DAYS)}
                             for m in (fraud, price)}
        for m in (fraud, price):
            pending = await conn.fetch("SELECT prediction_id, label_class, label_value FROM pending_labels"
                                       " WHERE model_id = $1", m.id)
            assert {r["prediction_id"]: r["label_class"] if m.task == "binary" else r["label_value"]
                    for r in pending} == compressed_labels[m.id]
            seen = await conn.fetch("SELECT prediction_id, label_class, label_value FROM predictions_labelled"
                                    " WHERE model_id = $1 AND time < $2 AND prediction_id = ANY($3::text[])",
                                    m.id, _day(COMPRESSED_DAYS), list(compressed_labels[m.id]))
            assert {r["prediction_id"]: r["label_class"] if m.task == "binary" else r["label_value"]
                    for r in seen} == compressed_labels[m.id]

    # Deletes: by id in compressed days (the engine's service), one compressed hour by range, and in SQL.
    with clock.lap("deletes"):
        async with full_pool.acquire() as conn:
            gone = [r["prediction_id"] for r in await conn.fetch(
                "SELECT prediction_id FROM prediction_times WHERE model_id = $1 AND time >= $2 AND time < $3"
                " ORDER BY prediction_id LIMIT 40", fraud.id, _day(5) + timedelta(hours=6), _day(5) + timedelta(hours=7))]
        async with unit_from_pool(full_pool) as uow:
            svc = PredictionService(uow)
            assert (await svc.delete("fraud", ids=gone)).deleted == 40
            hour = (await svc.delete("price", start=_day(7) + timedelta(hours=13), end=_day(7) + timedelta(hours=14))).deleted
            assert 200 < hour < 600
        async with full_pool.acquire() as conn:
            assert await conn.fetchval("SELECT dl_delete_predictions('fraud', $1, $2)", _day(16), _day(16) + timedelta(minutes=30)) > 50
            after_deletes = await _compressed_chunks(conn)
        for start, (name, rows) in after_deletes.items():
            if start not in (_day(3), _day(5), _day(7), _day(9)):
                assert rows == 0, f"{name}: {rows} rows decompressed by deletes that did not touch it"

    # Late predictions into compressed days 4 and 6, some of them already stored (compressed duplicates).
    with clock.lap("late predictions"):
        async with full_pool.acquire() as conn:
            dups = await conn.fetch("SELECT prediction_id, time, score FROM predictions WHERE model_id = $1"
                                    " AND time >= $2 AND time < $3 AND score IS NOT NULL LIMIT 30", fraud.id, _day(4), _day(5))
        late = [{"prediction_id": f"late-{i}", "time": (_day(4 + 2 * (i % 2)) + timedelta(seconds=float(s))).isoformat(),
                 "score": float(rng.beta(2, 2)), "latency_ms": float(rng.lognormal(2, 1)),
                 "segments": {"region": str(rng.choice(["eu", "us", "ap"]))},
                 "features": {"x1": float(rng.normal(0, 2)), "x2": float(rng.exponential(3)),
                              "color": str(rng.choice(["red", "green", "blue", "mauve"]))}}
                for i, s in enumerate(rng.uniform(0, 86400, 1500))]
        late += [{"prediction_id": r["prediction_id"], "time": r["time"].isoformat(), "score": r["score"]} for r in dups]
        async with unit_from_pool(full_pool) as uow:
            result = await IngestService(uow).log_predictions("fraud", late, version="v1")
        assert (result.written, result.duplicates) == (1500, 30)

    with clock.lap("refresh"):
        report = await refresh_windows(full_pool)
    assert report.edition == "timescale" and report.minutes > 0
    assert report.labels_applied == sum(len(v) for v in compressed_labels.values())
    async with full_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM window_invalidations") == 0
        assert await conn.fetchval("SELECT count(*) FROM pending_labels") == 0
        after_refresh = await _compressed_chunks(conn)
        for start, (name, rows) in after_refresh.items():
            if start in (_day(3), _day(9)):
                # only the batches (1,000 rows of one model and version) holding two hours of the day
                in_chunk = await conn.fetchval(f"SELECT count(*) FROM {name}")
                assert 0 < rows < 0.6 * in_chunk, (name, rows, in_chunk)
            elif start not in (_day(4), _day(5), _day(6), _day(7), _day(10), _day(11), _day(12)):  # late rows: 4, 6
                assert rows == 0, f"{name}: {rows} rows decompressed by writes that did not touch it"
        for m in (fraud, price):
            stored = await conn.fetch("SELECT prediction_id, label_class, label_value FROM predictions"
                                      " WHERE model_id = $1 AND time < $2 AND prediction_id = ANY($3::text[])",
                                      m.id, _day(COMPRESSED_DAYS), list(compressed_labels[m.id]))
            assert {r["prediction_id"]: r["label_class"] if m.task == "binary" else r["label_value"]
                    for r in stored} == compressed_labels[m.id]

    # Every window against the raw rows: daily over the whole history, hourly over the days written into.
    with clock.lap("oracle"):
        span = (START - timedelta(days=1), _day(DAYS + 1))
        async with unit_from_pool(full_pool) as uow:
            svc = WindowsService(uow)
            for m in (fraud, price):
                async with full_pool.acquire() as conn:
                    raw = await raw_predictions(conn, m.id)
                assert check_series(m, await svc.model_metrics(m.name, *span, granularity="1d"), raw, "1d") > 100
                for d in (3, 4, 5, 7, 9, 16):
                    lo, hi = _day(d), _day(d + 1)
                    day_rows = [r for r in raw if lo <= r["time"] < hi]
                    series = await svc.model_metrics(m.name, lo, hi, granularity="1h")
                    assert check_series(m, series, day_rows, "1h") > 100
            async with full_pool.acquire() as conn:
                raw = await raw_predictions(conn, fraud.id)
            hist = await svc.feature_histograms("fraud", *span, granularity="1d")
            got = {(p.bucket, p.feature): {"n": p.n, "missing": p.missing, "out_of_range": p.out_of_range,
                                           "counts": list(p.counts)} for p in hist.points}
            assert got == expected_hist(raw, "1d")
    print(f"\ncompressed history: {json.dumps(clock.laps)}; refresh {json.dumps(report.to_dict())}")
