"""The binary COPY encoder (engine.ingest.copy_binary) stores exactly what asyncpg's own encoder stores for
the records of `tests.ingest.reference_records.prediction_records` — checked in the database, both directions of EXCEPT ALL, for
the three reference models with nulls everywhere they are allowed, unicode, and several chunks."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest

from engine.domain import ModelSpec
from engine.ingest.copy_binary import prediction_copy_chunks
from engine.ingest.records import PREDICTION_COLUMNS
from engine.ingest.rows import prediction_rows_to_frame
from engine.ingest.validate import validate_predictions
from tests.ingest.reference_records import prediction_records
from tests.ingest.support import BINARY_LABELS, MULTI_LABELS, T0


def _maybe(rng: np.random.Generator, p: float, value: Any) -> Any:
    return None if rng.uniform() < p else value


def _rows(model: ModelSpec, n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        feats: dict[str, Any] = {}
        for f in model.features:
            if f.kind == "numeric":
                u = rng.uniform()
                if not f.nullable or u >= 0.2:
                    feats[f.name] = float(rng.normal(40, 10))
                elif u < 0.1:
                    feats[f.name] = math.nan  # NaN = missing
                # else: absent
            else:
                feats[f.name] = _maybe(rng, 0.15, str(rng.choice(["basic", "pro", "", "ünïcødé ✓", "a\"b\\c"])))
        segs = {k: v for k, v in (("region", _maybe(rng, 0.3, str(rng.choice(["eu", "us"])))),
                                  ("arm", _maybe(rng, 0.5, "b"))) if v is not None}
        row: dict[str, Any] = {
            "prediction_id": f"id-{i}-é" if i % 7 == 0 else f"id-{i}",
            "time": (T0 + timedelta(minutes=i, microseconds=int(rng.integers(0, 10**6)))).isoformat(),
            "latency_ms": _maybe(rng, 0.2, float(rng.gamma(2, 3))),
            "features": feats,
        }
        if segs:
            row["segments"] = segs
        if model.task == "binary":
            row["score"] = float(rng.uniform())
            row["label"] = _maybe(rng, 0.5, str(rng.choice(BINARY_LABELS)))
        elif model.task == "multiclass":
            if rng.uniform() < 0.3:
                row["prediction"] = str(rng.choice(MULTI_LABELS))
            else:
                p = rng.dirichlet([1, 1, 1])
                row["probabilities"] = [float(x) for x in p]
            row["label"] = _maybe(rng, 0.5, str(rng.choice(MULTI_LABELS)))
        else:
            row["prediction"] = float(rng.normal(100, 20))
            row["label"] = _maybe(rng, 0.5, float(rng.normal(100, 20)))
        rows.append(row)
    return rows


async def _stream(chunks: Any) -> Any:
    for c in chunks:
        yield c


@pytest.mark.parametrize("model_name", ["churn", "iris", "price"])
@pytest.mark.parametrize("label_all_null", [False, True])
async def test_binary_copy_stores_what_asyncpg_records_store(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], model_name: str, label_all_null: bool
) -> None:
    model = models[model_name]
    rows = _rows(model, 157, seed=len(model_name))
    if label_all_null:
        for r in rows:
            r.pop("label", None)
    frame, errors = prediction_rows_to_frame(model, rows)
    frame, more = validate_predictions(model, frame)
    assert not errors and not more, (errors + more)[:3]
    received = datetime(2026, 3, 9, 12, 0, 0, 123456, tzinfo=UTC)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE via_records (LIKE predictions); CREATE TEMP TABLE via_binary (LIKE predictions)")
        await conn.copy_records_to_table("via_records", records=prediction_records(model, 3, frame, received),
                                         columns=PREDICTION_COLUMNS)
        await conn.copy_to_table("via_binary", columns=PREDICTION_COLUMNS, format="binary",
                                 source=_stream(prediction_copy_chunks(model, 3, frame, received, chunk_rows=40)))
        assert await conn.fetchval("SELECT count(*) FROM via_binary") == len(rows)
        for a, b in (("via_records", "via_binary"), ("via_binary", "via_records")):
            missing = await conn.fetch(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}")
            assert missing == [], f"{a} rows not in {b}: {missing[:2]}"
        # The comparison must see the interesting values: nulls and non-nulls both present.
        stats = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE segments IS NULL) AS no_segs, count(*) FILTER (WHERE latency_ms IS NULL) "
            "AS no_latency, count(*) FILTER (WHERE array_position(num_features, NULL) IS NOT NULL) AS null_feature, "
            "count(*) FILTER (WHERE label_time IS NOT NULL) AS labelled FROM via_binary")
        assert stats["no_segs"] > 0 and stats["no_latency"] > 0 and stats["null_feature"] > 0
        assert (stats["labelled"] == 0) == label_all_null
