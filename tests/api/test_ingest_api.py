"""Batch ingest through the REST API: JSON, NDJSON, Arrow IPC and Parquet bodies; partial mode, rejected rows,
Idempotency-Key, labels and metrics; malformed bodies and invalid rows."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import asyncpg
import numpy as np
import polars as pl
from litestar.testing import AsyncTestClient

from engine.domain import ModelSpec
from tests.ingest.support import (
    BINARY_LABELS,
    BINARY_THRESHOLD,
    T0,
    binary_rows,
    expected_cat,
    expected_num,
    fetch_predictions,
    good_binary_row,
    parse_time,
    segments_of,
    snapshot,
)

PRED = "/api/v1/models/churn/predictions"


def _check_stored(stored: dict[str, asyncpg.Record], model: ModelSpec, rows: list[dict[str, object]]) -> None:
    assert set(stored) == {r["prediction_id"] for r in rows}
    for row in rows:
        rec = stored[str(row["prediction_id"])]
        assert rec["time"] == parse_time(str(row["time"]))
        assert rec["score"] == row["score"]
        assert rec["predicted_class"] == BINARY_LABELS[int(float(row["score"]) >= BINARY_THRESHOLD)]  # type: ignore[arg-type]
        assert rec["latency_ms"] == row.get("latency_ms")
        assert segments_of(rec) == row["segments"]
        assert list(rec["num_features"]) == expected_num(model, row["features"])  # type: ignore[arg-type]
        assert list(rec["cat_features"]) == expected_cat(model, row["features"])  # type: ignore[arg-type]


def _json_safe(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """JSON has no NaN: a missing feature is sent as null (or left out)."""
    out = []
    for r in rows:
        feats = {k: (None if isinstance(v, float) and v != v else v) for k, v in r["features"].items()}  # type: ignore[union-attr]
        out.append(dict(r, features=feats))
    return out


async def test_json_bodies(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    rows = _json_safe(binary_rows(np.random.default_rng(81), 60))
    r = await client.post(PRED, json=rows[:40])
    assert r.status_code == 201, r.text
    body = r.json()
    # rows carry an `arm` segment the model does not declare: stored, with a warning
    assert [(w["row"], w["field"]) for w in body.pop("warnings")] == [(None, "segments.arm")]
    assert body == {"kind": "predictions", "received": 40, "written": 40, "duplicates": 0, "rejected": 0,
                    "errors": [], "error_count": 0, "replayed": False}
    r = await client.post(PRED, json={"rows": rows[30:]})  # the object form; overlaps the first batch
    assert (r.status_code, r.json()["written"], r.json()["duplicates"]) == (201, 20, 10)
    _check_stored(await fetch_predictions(pool, models["churn"].id), models["churn"], rows)


async def test_ndjson_body(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    rows = _json_safe(binary_rows(np.random.default_rng(82), 30))
    body = "\n".join(json.dumps(r) for r in rows) + "\n\n"
    r = await client.post(PRED, content=body.encode(), headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 201 and r.json()["written"] == 30, r.text
    _check_stored(await fetch_predictions(pool, models["churn"].id), models["churn"], rows)


def _frame(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(83)
    return pl.DataFrame({
        "prediction_id": [f"a-{i}" for i in range(n)],
        "time": pl.datetime_range(T0, T0 + timedelta(minutes=n - 1), "1m", eager=True, time_zone="Europe/Paris"),
        "score": rng.random(n),
        "age": rng.uniform(18, 80, n),
        "tenure": rng.integers(0, 40, n),
        "plan": ["pro", "basic"] * (n // 2),
        "region": ["eu"] * n,
    })


async def _check_frame(pool: asyncpg.Pool, model: ModelSpec, frame: pl.DataFrame) -> None:
    stored = await fetch_predictions(pool, model.id)
    assert len(stored) == frame.height
    for row in frame.iter_rows(named=True):
        rec = stored[row["prediction_id"]]
        assert rec["time"] == row["time"]
        assert rec["score"] == row["score"]
        assert rec["predicted_class"] == BINARY_LABELS[int(row["score"] >= BINARY_THRESHOLD)]
        assert list(rec["num_features"]) == expected_num(model, row)
        assert list(rec["cat_features"]) == expected_cat(model, row)
        assert segments_of(rec) == {"region": "eu"}


async def test_arrow_ipc_stream_body(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    frame = _frame(50)
    buf = io.BytesIO()
    frame.write_ipc_stream(buf)
    r = await client.post(f"{PRED}?segment_columns=region", content=buf.getvalue(),
                          headers={"content-type": "application/vnd.apache.arrow.stream"})
    assert r.status_code == 201 and r.json()["written"] == 50, r.text
    await _check_frame(pool, models["churn"], frame)


async def test_arrow_ipc_file_body(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    frame = _frame(20)
    buf = io.BytesIO()
    frame.write_ipc(buf)
    r = await client.post(f"{PRED}?segment_columns=region", content=buf.getvalue(),
                          headers={"content-type": "application/vnd.apache.arrow.file"})
    assert r.status_code == 201 and r.json()["written"] == 20, r.text
    await _check_frame(pool, models["churn"], frame)


async def test_parquet_body(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    frame = _frame(40)
    buf = io.BytesIO()
    frame.write_parquet(buf)
    r = await client.post(f"{PRED}?segment_columns=region&version=v2", content=buf.getvalue(),
                          headers={"content-type": "application/vnd.apache.parquet"})
    assert r.status_code == 201 and r.json()["written"] == 40, r.text
    await _check_frame(pool, models["churn"], frame)
    v2 = await pool.fetchval("SELECT id FROM model_versions WHERE model_id = $1 AND version = 'v2'", models["churn"].id)
    assert await pool.fetchval("SELECT count(DISTINCT version_id) FROM predictions") == 1
    assert await pool.fetchval("SELECT min(version_id) FROM predictions") == v2


async def test_partial_mode_and_rejected_rows(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    rows = [good_binary_row(k) for k in range(6)]
    rows[1] = dict(rows[1], score=2.0)
    rows[4] = dict(rows[4], time="2026-03-01T00:00:00")
    r = await client.post(f"{PRED}?partial=true", json=rows)
    assert r.status_code == 201
    body = r.json()
    assert (body["written"], body["rejected"]) == (4, 2)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "score"), (4, "time")]
    assert {p for p in await fetch_predictions(pool, models["churn"].id)} == {f"g-{k}" for k in (0, 2, 3, 5)}
    r = await client.get("/api/v1/rejected?model=churn")
    assert r.status_code == 200
    rej = sorted(r.json(), key=lambda x: x["row_index"])
    assert [(x["kind"], x["row_index"], x["field"]) for x in rej] == [("predictions", 1, "score"), ("predictions", 4, "time")]
    assert rej[0]["payload"] == rows[1] and "within [0, 1]" in rej[0]["reason"]
    assert (await client.get("/api/v1/rejected?model=iris")).json() == []
    assert (await client.get("/api/v1/rejected?limit=0")).status_code == 400


async def test_idempotency_key_header(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    rows = [good_binary_row(k) for k in range(5)]
    first = await client.post(PRED, json=rows, headers={"Idempotency-Key": "abc"})
    assert first.status_code == 201
    before = await snapshot(pool)
    again = await client.post(PRED, json=rows, headers={"Idempotency-Key": "abc"})
    assert again.status_code == 200 and again.json() == dict(first.json(), replayed=True)
    labels = [{"prediction_id": r["prediction_id"], "label": "churn"} for r in rows]
    l1 = await client.post("/api/v1/models/churn/labels", json=labels, headers={"Idempotency-Key": "lab"})
    assert l1.status_code == 201 and l1.json()["written"] == 5
    metrics = [{"name": "cost", "value": 2.5, "time": T0.isoformat(), "tags": {"k": "v"}}]
    m1 = await client.post("/api/v1/metrics?model=churn", json=metrics, headers={"Idempotency-Key": "met"})
    assert m1.status_code == 201
    mid = await snapshot(pool)
    assert mid != before
    for url, body, key in (("/api/v1/models/churn/labels", labels, "lab"), ("/api/v1/metrics?model=churn", metrics, "met")):
        r = await client.post(url, json=body, headers={"Idempotency-Key": key})
        assert r.status_code == 200 and r.json()["replayed"] is True
    assert await snapshot(pool) == mid
    r = await client.post("/api/v1/metrics", json=metrics, headers={"Idempotency-Key": "abc"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "idempotency_key"
    assert await snapshot(pool) == mid


async def test_labels_and_metrics(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    rows = [good_binary_row(k) for k in range(4)]
    await client.post(PRED, json=rows)
    r = await client.post("/api/v1/models/churn/labels",
                          json=[{"prediction_id": "g-2", "label": "churn"}, {"prediction_id": "g-0", "label": "stay"}])
    assert r.status_code == 201 and r.json()["written"] == 2
    stored = await fetch_predictions(pool, models["churn"].id)
    assert {p: v["label_class"] for p, v in stored.items()} == {"g-0": "stay", "g-1": None, "g-2": "churn", "g-3": None}
    r = await client.post("/api/v1/models/churn/labels", json=[{"prediction_id": "zzz", "label": "stay"}])
    assert r.status_code == 422 and [(e["row"], e["field"]) for e in r.json()["errors"]] == [(0, "prediction_id")]
    assert r.json()["errors"][0]["reason"].startswith("no stored prediction with this id within the label horizon")
    r = await client.post("/api/v1/models/churn/labels?partial=true",
                          json=[{"prediction_id": "zzz", "label": "stay"}, {"prediction_id": "g-1", "label": "churn"}])
    assert (r.status_code, r.json()["written"], r.json()["rejected"]) == (201, 1, 1)

    ms = [{"name": "latency.p99", "value": float(v), "time": (T0 + timedelta(minutes=v)).isoformat(), "tags": {"pod": "a"}}
          for v in range(10)]
    assert (await client.post("/api/v1/metrics", json=ms[:5])).status_code == 201
    assert (await client.post("/api/v1/metrics?model=price", json=ms[5:])).status_code == 201
    got = await pool.fetch("SELECT model_id, value, tags FROM metrics ORDER BY time")
    assert [(g["model_id"], g["value"], json.loads(g["tags"])) for g in got] == (
        [(None, float(v), {"pod": "a"}) for v in range(5)] + [(models["price"].id, float(v), {"pod": "a"}) for v in range(5, 10)])
    assert (await client.post("/api/v1/metrics?model=nope", json=ms)).status_code == 404


async def test_bad_bodies_change_nothing(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    await client.post(PRED, json=[good_binary_row(k) for k in range(3)])
    before = await snapshot(pool)
    good = json.dumps([good_binary_row(10)]).encode()
    naive = io.BytesIO()
    _frame(4).with_columns(pl.col("time").dt.replace_time_zone(None)).write_parquet(naive)
    extra = io.BytesIO()
    _frame(4).with_columns(colour=pl.lit("red")).write_ipc_stream(extra)
    cases: list[tuple[str, bytes, str, int, tuple[object, str | None, str]]] = [
        (PRED + "?segment_columns=region", naive.getvalue(), "application/vnd.apache.parquet", 422,
         (None, "time", "no timezone")),
        (PRED + "?segment_columns=region", extra.getvalue(), "application/vnd.apache.arrow.stream", 422,
         (None, "colour", "unknown column")),
        (PRED, extra.getvalue(), "application/vnd.apache.arrow.stream", 422, (None, "region", "unknown column")),
        (PRED, b'[{"prediction_id": "x", "score": 0.5,', "application/json", 400, (None, "body", "malformed JSON")),
        (PRED, b"", "application/json", 400, (None, "body", "empty request body")),
        (PRED, b'{"prediction_id": "x"}', "application/json", 400, (None, "body", "expected a JSON array")),
        (PRED, good, "text/csv", 415, ("detail", None, "unsupported content type 'text/csv'")),
        (PRED, good + b"\n{oops", "application/x-ndjson", 400, (1, "body", "malformed JSON on line 2")),
        (PRED, b"PAR1 not really", "application/vnd.apache.parquet", 400, (None, "body", "not a valid Parquet body")),
        (PRED, b"\x00\x01garbage", "application/vnd.apache.arrow.stream", 400, (None, "body", "not a valid Arrow IPC")),
        (PRED, b"[]", "application/json", 422, (None, None, "empty batch")),
        (PRED, json.dumps([dict(good_binary_row(11), score="high")]).encode(), "application/json", 422,
         (0, "score", "expected a number")),
        (PRED, json.dumps([good_binary_row(k) for k in range(501)]).encode(), "application/json", 422,
         (None, None, "exceeds the limit of 500")),
        (PRED + "?version=v7", good, "application/json", 404, ("detail", None, "no version 'v7'")),
        ("/api/v1/models/nope/predictions", good, "application/json", 404, ("detail", None, "'nope' does not exist")),
        ("/api/v1/metrics", b'[{"name": "c", "value": 1}]', "application/json", 422, (0, "time", "required")),
    ]
    r = await client.post(PRED, content=good, headers={"content-type": "application/json", "Idempotency-Key": "k" * 201})
    assert r.status_code == 400
    for url, body, ctype, status, (row, fld, reason) in cases:
        r = await client.post(url, content=body, headers={"content-type": ctype})
        assert r.status_code == status, (url, body[:40], r.text)
        out = r.json()
        if row == "detail":
            assert reason in out["detail"], out
        else:
            assert any(e["row"] == row and e["field"] == fld and reason in e["reason"] for e in out["errors"]), out
        assert await snapshot(pool) == before, (url, body[:40])


async def test_delete_predictions(client: AsyncTestClient, pool: asyncpg.Pool, models: dict[str, ModelSpec]) -> None:
    rows = [good_binary_row(k) for k in range(6)]
    assert (await client.post(PRED, json=rows)).status_code == 201
    r = await client.delete(PRED, params={"prediction_id": ["g-0", "g-1", "nope"]})
    assert (r.status_code, r.json()) == (200, {"deleted": 2})
    r = await client.delete(PRED, params={"start": rows[2]["time"], "end": rows[4]["time"]})
    assert (r.status_code, r.json()) == (200, {"deleted": 2})
    assert set(await fetch_predictions(pool, models["churn"].id)) == {"g-4", "g-5"}
    assert await pool.fetchval("SELECT count(*) FROM window_invalidations WHERE kind = 'predictions'") > 0
    r = await client.delete(PRED)
    assert r.status_code == 422 and r.json()["errors"][0]["reason"].startswith("give prediction ids")
    r = await client.delete(PRED, params={"start": rows[4]["time"], "end": rows[2]["time"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "end"
    assert (await client.delete(PRED, params={"start": "yesterday"})).status_code == 400
    assert (await client.delete("/api/v1/models/nope/predictions", params={"prediction_id": "x"})).status_code == 404
