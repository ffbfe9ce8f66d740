"""Declaring a segment dimension after data exists (REST, SDK, CLI): the windows over the retained raw rows are
marked stale like late writes and recomputed by the refresher; reads grouped or filtered by the new key are
exact at once (from raw rows) and after the backfill (from the windows), equal to numpy on the raw rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import numpy as np
import polars as pl

from engine.sdk import AsyncClient, Client, DriftlineAPIError
from tests.cli.helpers import driftline
from tests.conftest import refresh_windows
from tests.sdk.conftest import T0, fetch

CLASSES = ["no", "yes"]
TIERS = ["gold", "silver", "bronze"]
END = T0 + timedelta(hours=4)


def _frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    time = [T0 + timedelta(seconds=int(s)) for s in rng.integers(0, 4 * 3600, n)]
    score = rng.uniform(size=n)
    labelled = rng.random(n) < 0.8
    truth = [CLASSES[int(u < s)] for u, s in zip(rng.uniform(size=n), score, strict=True)]
    return pl.DataFrame(
        {"prediction_id": [f"d-{i}" for i in range(n)], "time": time, "score": score, "x": rng.normal(size=n),
         "region": rng.choice(["eu", "us"], n).tolist(),
         "tier": [t if rng.random() > 0.1 else None for t in rng.choice(TIERS, n).tolist()],
         "label": [t if lab else None for t, lab in zip(truth, labelled, strict=True)]},
        schema_overrides={"time": pl.Datetime("us", "UTC")},
    )


def _expected(frame: pl.DataFrame, keys: list[str], every: str = "1h") -> dict[tuple[Any, ...], dict[str, Any]]:
    """count, labelled rows and accuracy per (bucket, group), from the raw rows with numpy."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    df = frame.with_columns(pl.col("time").dt.truncate(every).alias("bucket"))
    for key, part in df.group_by(["bucket", *keys]):
        pred = np.where(part["score"].to_numpy() >= 0.5, "yes", "no")
        lab = part["label"].to_numpy()
        has = np.array([v is not None for v in lab])
        acc = float(np.mean(pred[has] == lab[has])) if has.any() else None
        out[tuple(key)] = {"count": part.height, "labelled": int(has.sum()), "accuracy": acc}
    return out


def _served(client_url: str, model: str, group_by: str, **params: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    r = httpx.get(f"{client_url}/api/v1/models/{model}/windows/metrics",
                  params={"start": T0.isoformat().replace("+00:00", "Z"), "end": END.isoformat().replace("+00:00", "Z"),
                          "granularity": "1h", "group_by": group_by, "metrics": "count,accuracy", **params})
    assert r.status_code == 200, r.text
    out = {}
    for p in r.json()["points"]:
        bucket = pl.Series([p["bucket"]]).str.to_datetime(time_zone="UTC")[0]
        g = p["group"]
        key = (bucket, *([g[k] for k in group_by.split(",")] if isinstance(g, dict) else [g]))
        out[key] = {"count": p["values"]["count"], "labelled": p["sample_sizes"].get("labelled", 0),
                    "accuracy": p["values"]["accuracy"]}
    return out


def _assert_equal(served: dict[tuple[Any, ...], dict[str, Any]], expected: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    assert set(served) == set(expected)
    for k, want in expected.items():
        got = served[k]
        assert got["count"] == want["count"] and got["labelled"] == want["labelled"], k
        if want["accuracy"] is None:
            assert got["accuracy"] is None
        else:
            assert abs(got["accuracy"] - want["accuracy"]) < 1e-12, k


async def _pending(db_url: str, model: str) -> int:
    rows = await fetch(db_url, "SELECT count(*) AS n FROM window_invalidations w JOIN models m ON m.id = w.model_id"
                               " WHERE m.name = '" + model + "' AND kind = 'predictions'")
    return int(rows[0]["n"])


async def test_declare_a_dimension_later(server_url: str, db_url: str, pool: asyncpg.Pool) -> None:
    frame = _frame(1500, seed=11)
    with Client(server_url) as dl:
        dl.create_model("fraud", "binary", [{"name": "x", "kind": "numeric"}], class_labels=CLASSES,
                        dimensions=["region"])
        dl.create_version("fraud", "v1", stage="production")
        summary = dl.log_predictions("fraud", frame, segment_columns=["region", "tier"])
        assert [w.field for w in summary.warnings] == ["segments.tier"]
    await refresh_windows(pool)
    assert await _pending(db_url, "fraud") == 0
    r = httpx.get(f"{server_url}/api/v1/models/fraud/windows/metrics",
                  params={"start": "2026-03-02T08:00:00Z", "end": "2026-03-02T12:00:00Z", "group_by": "tier"})
    assert r.status_code == 422 and "tier" in r.text

    with Client(server_url) as dl:
        declared = dl.declare_dimension("fraud", "tier")
        assert declared.model.dimensions == ("region", "tier") and declared.dimension == "tier"
        first, last = frame["time"].min(), frame["time"].max()
        assert declared.backfill_start == first.replace(second=0, microsecond=0)  # type: ignore[union-attr]
        assert declared.backfill_end == last.replace(second=0, microsecond=0) + timedelta(minutes=1)  # type: ignore[union-attr]
        try:
            dl.declare_dimension("fraud", "tier")
            raise AssertionError("a second declaration must be refused")
        except DriftlineAPIError as exc:
            assert exc.status == 409 and "already" in str(exc)
    assert await _pending(db_url, "fraud") >= 1  # the backfill waits for the refresher

    # exact at once, from raw rows: by the new key, by both keys, filtered by it
    expected = _expected(frame, ["tier"])
    _assert_equal(_served(server_url, "fraud", "tier"), expected)
    _assert_equal(_served(server_url, "fraud", "region,tier"), _expected(frame, ["region", "tier"]))
    gold = frame.filter(pl.col("tier") == "gold")
    _assert_equal(_served(server_url, "fraud", "region", filter="tier=gold"), _expected(gold, ["region"]))

    # the refresher backfills; the windows then hold the new key, and the answers are unchanged
    report = await refresh_windows(pool)
    assert report.failed == () and await _pending(db_url, "fraud") == 0
    keys = await fetch(db_url, "SELECT DISTINCT segment ->> 'tier' AS tier FROM predictions_1h w JOIN models m"
                               " ON m.id = w.model_id WHERE m.name = 'fraud'")
    assert {k["tier"] for k in keys} == {*TIERS, None}
    _assert_equal(_served(server_url, "fraud", "tier"), expected)
    _assert_equal(_served(server_url, "fraud", "region,tier"), _expected(frame, ["region", "tier"]))
    _assert_equal(_served(server_url, "fraud", "region", filter="tier=gold"), _expected(gold, ["region"]))
    with Client(server_url) as dl:
        sdk = dl.window_metrics("fraud", T0, END, granularity="1h", group_by="tier", metrics=["count"])
        assert int(sdk["count"].sum()) == frame.height
        # a declared key draws no warning any more
        more = _frame(20, seed=12).with_columns(pl.col("prediction_id") + "-more")
        assert dl.log_predictions("fraud", more, segment_columns=["region", "tier"]).warnings == ()


async def test_declare_dimension_refusals(server_url: str, db_url: str) -> None:
    with Client(server_url) as dl:
        dl.create_model("empty", "regression", dimensions=["a", "b", "c"])
    async with AsyncClient(server_url) as adl:
        declared = await adl.declare_dimension("empty", "d")  # no rows yet: nothing to backfill
        assert declared.backfill_start is None and declared.model.dimensions == ("a", "b", "c", "d")
    url = f"{server_url}/api/v1/models"
    r = httpx.post(f"{url}/empty/dimensions", json={"name": "e"})
    assert r.status_code == 409 and "at most 4" in r.json()["detail"]
    r = httpx.post(f"{url}/empty/dimensions", json={"name": "not a key"})
    assert r.status_code in (400, 422) and "name" in r.text
    r = httpx.post(f"{url}/nobody/dimensions", json={"name": "e"})
    assert r.status_code == 404
    r = httpx.post(f"{url}/empty/dimensions", content=b"name=e", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_cli_add_dimension(db_url: str, tmp_path: Any) -> None:
    spec = tmp_path / "m.json"
    spec.write_text('{"name": "cli", "task": "regression"}')
    assert driftline(db_url, "models", "create", "-f", str(spec)).returncode == 0
    out = driftline(db_url, "models", "add-dimension", "cli", "region")
    assert out.returncode == 0, out.stderr
    assert "dimensions region" in out.stdout
    again = driftline(db_url, "models", "add-dimension", "cli", "region")
    assert again.returncode != 0 and "already" in again.stderr
