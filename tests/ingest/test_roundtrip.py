"""Round trip: what ingest stores is, field by field, what was sent (dict rows and polars frames)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
import polars as pl
import pytest

from engine.domain import ModelSpec
from engine.errors import ValidationError
from engine.ingest.service import IngestService
from engine.store.unit import UnitOfWork
from tests.ingest.support import (
    BINARY_LABELS,
    BINARY_THRESHOLD,
    MULTI_LABELS,
    T0,
    binary_rows,
    feature_positions,
    fetch_predictions,
    is_nan,
    parse_time,
    segments_of,
    snapshot,
)


def _by_position(positions: dict[str, tuple[str, int]], kind: str, feats: dict[str, object]) -> list[object]:
    """The stored array for one kind, built from the sent features and the positions the database holds."""
    names = sorted((p, n) for n, (k, p) in positions.items() if k == kind)
    assert [p for p, _ in names] == list(range(1, len(names) + 1))
    out: list[object] = []
    for _, name in names:
        v = feats.get(name)
        if v is None or is_nan(v):
            out.append(None)
        elif kind == "numeric":
            out.append(float(v))  # type: ignore[arg-type]
        else:
            out.append(v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v))
    return out


async def _version_id(pool: asyncpg.Pool, model: ModelSpec, version: str) -> int:
    vid: int = await pool.fetchval(
        "SELECT id FROM model_versions WHERE model_id = $1 AND version = $2", model.id, version
    )
    return vid


async def test_binary_rows_round_trip(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rng = np.random.default_rng(11)
    model = models["churn"]
    rows = binary_rows(rng, 400)
    result = await ingest.log_predictions("churn", rows)
    assert (result.received, result.written, result.duplicates, result.rejected) == (400, 400, 0, 0)
    assert not result.errors and not result.replayed

    stored = await fetch_predictions(pool, model.id)
    assert set(stored) == {r["prediction_id"] for r in rows}
    positions = await feature_positions(pool, model.id)
    v1 = await _version_id(pool, model, "v1")  # the production version, used when none is named
    scores = np.array([r["score"] for r in rows])
    expected_class = np.where(scores >= BINARY_THRESHOLD, BINARY_LABELS[1], BINARY_LABELS[0])
    for row, cls in zip(rows, expected_class, strict=True):
        rec = stored[row["prediction_id"]]
        assert rec["time"] == parse_time(row["time"])
        assert rec["time"].utcoffset() == timedelta(0)
        assert rec["version_id"] == v1
        assert rec["predicted_class"] == cls
        assert rec["predicted_value"] is None
        assert rec["score"] == row["score"]
        assert rec["probabilities"] is None
        assert rec["latency_ms"] == row.get("latency_ms")
        assert segments_of(rec) == row["segments"]
        assert list(rec["num_features"]) == _by_position(positions, "numeric", row["features"])
        assert list(rec["cat_features"]) == _by_position(positions, "categorical", row["features"])
        assert rec["label_class"] is None and rec["label_value"] is None and rec["label_time"] is None
    # NaN features really became SQL NULL (missing), not a stored NaN.
    age_pos = positions["age"][1]
    n_nan_sent = sum(is_nan(r["features"]["age"]) for r in rows)
    assert n_nan_sent > 0
    assert await pool.fetchval(
        f"SELECT count(*) FROM predictions WHERE num_features[{age_pos}] IS NULL AND model_id = $1", model.id
    ) == n_nan_sent
    assert await pool.fetchval("SELECT count(*) FROM predictions WHERE 'NaN'::float8 = ANY(num_features)") == 0
    # The rows span several 1-day chunks of the hypertable.
    chunks = await pool.fetchval("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'predictions'")
    assert chunks >= 3


async def test_multiclass_probabilities_give_argmax_class(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    rng = np.random.default_rng(12)
    model = models["iris"]
    n = 150
    probs = rng.dirichlet(np.ones(3), size=n)
    rows = []
    for i in range(n):
        row: dict[str, object] = {
            "prediction_id": f"m-{i}", "time": (T0 + timedelta(minutes=i)).isoformat(),
            "features": {f"x{j}": float(rng.normal()) for j in range(4)} | {"site": f"s{i % 4}"},
        }
        if i % 10 == 0:  # keyed by class name, in a shuffled order
            row["probabilities"] = {c: float(probs[i, k]) for k, c in reversed(list(enumerate(MULTI_LABELS)))}
        else:
            row["probabilities"] = probs[i].tolist()
        if i % 7 == 0:  # an explicit prediction is kept as given, even when it is not the arg-max
            row["prediction"] = MULTI_LABELS[(int(np.argmax(probs[i])) + 1) % 3]
        rows.append(row)
    result = await ingest.log_predictions("iris", rows, version="v2")
    assert result.written == n
    stored = await fetch_predictions(pool, model.id)
    v2 = await _version_id(pool, model, "v2")
    argmax = np.array(MULTI_LABELS)[np.argmax(probs, axis=1)]
    for i, row in enumerate(rows):
        rec = stored[f"m-{i}"]
        assert rec["version_id"] == v2
        assert rec["predicted_class"] == row.get("prediction", argmax[i])
        assert list(rec["probabilities"]) == probs[i].tolist()
        assert rec["score"] is None and rec["predicted_value"] is None
        assert rec["segments"] is None


async def test_regression_round_trip_with_labels_in_the_batch(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    rng = np.random.default_rng(13)
    model = models["price"]
    n = 120
    y = rng.normal(300_000, 50_000, n)
    rows = []
    for i in range(n):
        row: dict[str, object] = {
            "prediction_id": i,  # integer ids are accepted and stored as text
            "time": (T0 + timedelta(hours=i)).isoformat().replace("+00:00", "Z"),
            "prediction": float(y[i]) if i % 5 else int(np.rint(y[i])),
            "features": {"rooms": int(rng.integers(1, 6)), "area": float(rng.uniform(20, 200)), "city": "paris"},
            "latency_ms": 0.0,
        }
        if i % 3 == 0:
            row["label"] = float(y[i] + rng.normal(0, 1000))
        rows.append(row)
    before = datetime.now(UTC)
    assert (await ingest.log_predictions("price", rows)).written == n
    after = datetime.now(UTC)
    stored = await fetch_predictions(pool, model.id)
    positions = await feature_positions(pool, model.id)
    for i, row in enumerate(rows):
        rec = stored[str(i)]
        assert rec["predicted_value"] == float(row["prediction"])  # type: ignore[arg-type]
        assert rec["predicted_class"] is None and rec["score"] is None and rec["probabilities"] is None
        assert rec["time"] == parse_time(str(row["time"]).replace("Z", "+00:00"))
        assert rec["latency_ms"] == 0.0
        assert list(rec["num_features"]) == _by_position(positions, "numeric", row["features"])  # type: ignore[arg-type]
        assert list(rec["cat_features"]) == ["paris"]
        if "label" in row:
            assert rec["label_value"] == row["label"] and rec["label_class"] is None
            assert before <= rec["label_time"] <= after
        else:
            assert rec["label_value"] is None and rec["label_time"] is None


async def test_json_scalars_as_categories(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    """Integers and booleans are accepted as category values (codes, flags) and stored as their text;
    a float is refused (3.0 vs '3' would be ambiguous)."""
    model = models["churn"]
    base = {"time": T0.isoformat(), "score": 0.5}
    rows = [
        base | {"prediction_id": "c1", "features": {"tenure": 1, "plan": 3, "channel": True}},
        base | {"prediction_id": "c2", "features": {"tenure": 1, "plan": "pro", "channel": False}},
    ]
    await ingest.log_predictions("churn", rows)
    stored = await fetch_predictions(pool, model.id)
    positions = await feature_positions(pool, model.id)
    for row in rows:
        assert list(stored[row["prediction_id"]]["cat_features"]) == _by_position(  # type: ignore[index]
            positions, "categorical", row["features"]  # type: ignore[arg-type]
        )
    assert list(stored["c1"]["cat_features"])[positions["plan"][1] - 1] == "3"
    assert list(stored["c1"]["cat_features"])[positions["channel"][1] - 1] == "true"
    with pytest.raises(ValidationError) as info:
        await ingest.log_predictions("churn", [base | {"prediction_id": "c3", "features": {"tenure": 1, "plan": 3.0}}])
    assert [(e.row, e.field) for e in info.value.errors] == [(0, "features.plan")]
    assert "expected a string" in info.value.errors[0].reason


def _binary_frame(rng: np.random.Generator, n: int, tz: str | None) -> pl.DataFrame:
    times = [datetime(2026, 3, 1, 12) + timedelta(minutes=int(m)) for m in rng.integers(0, 5000, n)]
    age = rng.uniform(18, 90, n)
    age[rng.random(n) < 0.2] = np.nan
    frame = pl.DataFrame({
        "prediction_id": [f"f-{i}" for i in range(n)],
        "time": pl.Series(times, dtype=pl.Datetime("us")),
        "score": rng.random(n),
        "latency_ms": rng.exponential(10, n),
        "age": age,
        "plan": pl.Series([None if i % 9 == 0 else ("pro" if i % 2 else "basic") for i in range(n)], dtype=pl.Utf8),
        "tenure": rng.integers(0, 50, n),
        "income": pl.Series([None if i % 4 == 0 else float(i) for i in range(n)], dtype=pl.Float64),
        "channel": pl.Series(["web", "app"] * (n // 2), dtype=pl.Categorical),
        "region": [["eu", "us", "apac"][i % 3] for i in range(n)],
        "segment.arm": [None if i % 5 == 0 else "A" for i in range(n)],
    })
    if tz is not None:
        frame = frame.with_columns(pl.col("time").dt.replace_time_zone(tz))
    return frame


async def test_polars_frame_round_trip(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rng = np.random.default_rng(14)
    model = models["churn"]
    frame = _binary_frame(rng, 200, "America/New_York")
    result = await ingest.log_predictions("churn", frame, segment_columns=["region"])
    assert result.written == 200
    stored = await fetch_predictions(pool, model.id)
    positions = await feature_positions(pool, model.id)
    utc = frame.with_columns(pl.col("time").dt.convert_time_zone("UTC"))
    for row in utc.iter_rows(named=True):
        rec = stored[row["prediction_id"]]
        assert rec["time"] == row["time"]  # the same instant, New York wall time converted
        assert rec["score"] == row["score"]
        assert rec["predicted_class"] == (BINARY_LABELS[1] if row["score"] >= BINARY_THRESHOLD else BINARY_LABELS[0])
        assert rec["latency_ms"] == row["latency_ms"]
        feats = {k: row[k] for k in ("age", "plan", "tenure", "income", "channel")}
        assert list(rec["num_features"]) == _by_position(positions, "numeric", feats)
        assert list(rec["cat_features"]) == _by_position(positions, "categorical", feats)
        expected_segments = {"region": row["region"]} | ({"arm": row["segment.arm"]} if row["segment.arm"] else {})
        assert segments_of(rec) == expected_segments
    # The New York frame was built from naive wall times: check one conversion independently.
    first = frame.row(0, named=True)
    assert stored[first["prediction_id"]]["time"] == first["time"].astimezone(UTC)
    assert first["time"].tzinfo is not None and first["time"].utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))


async def test_polars_multiclass_list_column(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    rng = np.random.default_rng(15)
    n = 60
    probs = rng.dirichlet(np.ones(3), size=n)
    frame = pl.DataFrame({
        "prediction_id": [f"p{i}" for i in range(n)],
        "time": pl.datetime_range(T0, T0 + timedelta(minutes=n - 1), "1m", eager=True, time_zone="UTC"),
        "probabilities": probs.tolist(),
        **{f"x{j}": rng.normal(size=n) for j in range(4)},
        "site": ["a"] * n,
    })
    assert (await ingest.log_predictions("iris", frame)).written == n
    stored = await fetch_predictions(pool, models["iris"].id)
    argmax = np.array(MULTI_LABELS)[np.argmax(probs, axis=1)]
    for i in range(n):
        assert stored[f"p{i}"]["predicted_class"] == argmax[i]
        assert list(stored[f"p{i}"]["probabilities"]) == probs[i].tolist()


async def test_polars_naive_datetime_column_refused(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    frame = _binary_frame(np.random.default_rng(16), 20, None)
    before = await snapshot(pool)
    for partial in (False, True):  # a column-level problem refuses the batch even in partial mode
        with pytest.raises(ValidationError) as info:
            await ingest.log_predictions("churn", frame, segment_columns=["region"], partial=partial)
        assert [(e.row, e.field) for e in info.value.errors] == [(None, "time")]
        assert "no timezone" in info.value.errors[0].reason
    assert await snapshot(pool) == before


async def test_polars_string_time_column(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService) -> None:
    """ISO strings with offsets are parsed and normalised to UTC; a naive string is refused exactly as a
    naive datetime column is (the policy in engine/ingest/timeparse.py)."""
    base = {"score": [0.2, 0.9], "tenure": [1, 2]}
    frame = pl.DataFrame({"prediction_id": ["s1", "s2"], "time": ["2026-03-01T10:00:00+02:00", "2026-03-01T10:00:00Z"]} | base)
    assert (await ingest.log_predictions("churn", frame)).written == 2
    stored = await fetch_predictions(pool, models["churn"].id)
    assert stored["s1"]["time"] == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert stored["s2"]["time"] == datetime(2026, 3, 1, 10, tzinfo=UTC)

    naive = pl.DataFrame({"prediction_id": ["s3", "s4"], "time": ["2026-03-01T10:00:00", "2026-03-01T11:00:00"]} | base)
    before = await snapshot(pool)
    with pytest.raises(ValidationError) as info:
        await ingest.log_predictions("churn", naive)
    assert info.value.errors[0].field == "time"
    assert "timezone" in info.value.errors[0].reason
    assert await snapshot(pool) == before


async def test_segment_values_are_stored_verbatim(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    """Segment values are user text: quotes, backslashes, JSON-looking text and non-ASCII come back as sent,
    and a tag absent from a row is absent from its stored map (not null)."""
    values = ['eu":null', 'a\\":null,"b', '{"x": 1}', "naïve — ü", 'tail\\', '":null}', ""]
    rows = [
        {"prediction_id": f"q{i}", "time": T0.isoformat(), "score": 0.5, "features": {"tenure": 1},
         "segments": {"region": v} | ({"arm": "B"} if i % 2 else {}) | ({"région": v} if i == 3 else {})}
        for i, v in enumerate(values)
    ]
    rows.append({"prediction_id": "q-none", "time": T0.isoformat(), "score": 0.5, "features": {"tenure": 1}})
    rows.append({"prediction_id": "q-arm", "time": T0.isoformat(), "score": 0.5, "features": {"tenure": 1},
                 "segments": {"arm": "A"}})
    assert (await ingest.log_predictions("churn", rows)).written == len(rows)
    stored = await fetch_predictions(pool, models["churn"].id)
    for row in rows:
        assert segments_of(stored[str(row["prediction_id"])]) == row.get("segments"), row


async def test_edge_values_round_trip(pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService, uow: UnitOfWork) -> None:
    """Values at the edges of the binary COPY encoding: times before 2000 (negative PostgreSQL epoch) and
    with microseconds, the largest and smallest magnitudes ingest accepts (1e±100: beyond them squares
    overflow or underflow float8, see engine.ingest.magnitude, test_magnitude), -0.0, non-ASCII text, empty
    strings, probabilities instead of a score for a binary model."""
    from engine.domain import NewFeature, NewModel
    from engine.services.models import ModelService

    svc = ModelService(uow)
    await svc.create_model(NewModel(name="numonly", task="binary", class_labels=["n", "p"],
                                    features=[NewFeature("a", "numeric"), NewFeature("b", "numeric")]))
    await svc.create_version("numonly", "1", "production")
    rows = [
        {"prediction_id": "ü-1", "time": "1995-06-01T12:34:56.123456+00:00", "probabilities": [0.25, 0.75],
         "features": {"a": 1e100, "b": 1e-100}, "latency_ms": 1e-100},
        {"prediction_id": "ü-2", "time": "1990-01-01T00:00:00.000001Z", "score": 0.0,
         "features": {"a": -0.0, "b": -1e-100}},
        {"prediction_id": "ü-3", "time": "2199-12-31T23:59:59.999999+01:00", "score": 1.0, "features": {}},
    ]
    assert (await ingest.log_predictions("numonly", rows)).written == 3
    spec = await svc.get_model("numonly")
    stored = await fetch_predictions(pool, spec.id)
    for row in rows:
        rec = stored[str(row["prediction_id"])]
        assert rec["time"] == datetime.fromisoformat(str(row["time"]).replace("Z", "+00:00"))
        feats = row["features"]
        assert list(rec["num_features"]) == [feats.get("a"), feats.get("b")]  # type: ignore[union-attr]
        assert rec["cat_features"] is None and rec["segments"] is None
    assert math.copysign(1.0, stored["ü-2"]["num_features"][0]) == -1.0
    assert stored["ü-1"]["score"] == 0.75 and stored["ü-1"]["predicted_class"] == "p"
    assert stored["ü-1"]["probabilities"] is None  # binary models keep the score, not the pair
    assert stored["ü-1"]["latency_ms"] == 1e-100
    assert (stored["ü-2"]["predicted_class"], stored["ü-3"]["predicted_class"]) == ("n", "p")

    text_rows = [{"prediction_id": f"t{i}", "time": T0.isoformat(), "score": 0.5,
                  "features": {"tenure": 0, "plan": v, "channel": v[::-1]}}
                 for i, v in enumerate(["", "naïve — ü", "日本語", "x" * 5000, "tab\tnew\nline", 'quote"back\\'])]
    assert (await ingest.log_predictions("churn", text_rows)).written == len(text_rows)
    stored = await fetch_predictions(pool, models["churn"].id)
    positions = await feature_positions(pool, models["churn"].id)
    for row in text_rows:
        assert list(stored[str(row["prediction_id"])]["cat_features"]) == _by_position(
            positions, "categorical", row["features"])  # type: ignore[arg-type]


async def test_polars_time_range_is_checked_like_dict_rows(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService
) -> None:
    """The accepted time range [1990, 2200) (timeparse.py: catches seconds-vs-milliseconds mix-ups) holds
    for DataFrame input as it does for JSON rows."""
    frame = pl.DataFrame({
        "prediction_id": ["e0", "e1", "e2"],
        "time": pl.Series([T0, datetime(1970, 1, 21, tzinfo=UTC), T0], dtype=pl.Datetime("us", "UTC")),
        "score": [0.1, 0.2, 0.3],
        "tenure": [1, 2, 3],
    })
    before = await snapshot(pool)
    with pytest.raises(ValidationError) as info:
        await ingest.log_predictions("churn", frame)
    assert [(e.row, e.field) for e in info.value.errors] == [(1, "time")]
    assert "outside" in info.value.errors[0].reason
    assert await snapshot(pool) == before
    result = await ingest.log_predictions("churn", frame, partial=True)
    assert (result.written, result.rejected) == (2, 1)
