"""Numbers whose squares would overflow or underflow float8 in the windows' sums are refused at ingest (a
refresh that raises is retried forever and stops the model's windows): each path and field refuses a value
beyond the bounds with its row and field and stores nothing of the batch; values at the bounds are stored and
the windows refresh to numpy's sums over the raw rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import numpy as np
import polars as pl
import pytest

from engine.domain import ModelSpec
from engine.errors import ValidationError
from engine.ingest.magnitude import MAGNITUDE_REASON
from engine.ingest.metric_frames import metric_rows
from engine.ingest.service import IngestService
from engine.services.baselines.service import BaselineService
from engine.store.unit import UnitOfWork
from tests.conftest import refresh_windows
from tests.ingest.support import T0, good_binary_row, iso, snapshot

BAD = 2
BEYOND = (1e101, -1e101, 1e-101, -1e-101, 1e200, 1e-170, 1.7e308)


def _reg(k: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"prediction_id": f"r{k}", "time": iso(T0 + timedelta(minutes=k)), "prediction": 2.0 + k,
                           "features": {"rooms": 3.0, "area": 50.0, "city": "x"}, "latency_ms": 4.0}
    row.update(changes)
    return row


def _reg_batch(bad: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [_reg(k, label=1.0 + k) for k in range(5)]
    rows[BAD] = dict(rows[BAD], **bad)
    return rows


def close(got: float, terms: np.ndarray) -> None:
    """A float8 sum equals numpy's sum of the same terms up to rounding."""
    assert abs(got - float(np.sum(terms))) <= 1e-14 * float(np.sum(np.abs(terms))), (got, terms)


async def _refused(pool: asyncpg.Pool, call: Any, row: int, field: str) -> None:
    before = await snapshot(pool)
    with pytest.raises(ValidationError) as info:
        await call
    assert any(e.row == row and e.field == field and e.reason == MAGNITUDE_REASON for e in info.value.errors), \
        info.value.errors
    assert await snapshot(pool) == before


@pytest.mark.parametrize("value", BEYOND)
async def test_prediction_rows_beyond_the_bounds_are_refused(
    value: float, pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService,
) -> None:
    await ingest.log_predictions("price", [_reg(100 + k, label=1.0) for k in range(3)])
    cases: list[tuple[str, list[dict[str, Any]], str]] = [
        ("price", _reg_batch({"prediction": value}), "prediction"),
        ("price", _reg_batch({"label": value}), "label"),
        ("price", _reg_batch({"features": {"rooms": value, "city": "y"}}), "features.rooms"),
        ("churn", [dict(good_binary_row(k), features=dict(good_binary_row(k)["features"], income=value))
                   if k == BAD else good_binary_row(k) for k in range(5)], "features.income"),
    ]
    if value > 0:  # a negative latency has a rule of its own
        cases.append(("price", _reg_batch({"latency_ms": value}), "latency_ms"))
    for model, rows, field in cases:
        await _refused(pool, ingest.log_predictions(model, rows), BAD, field)
        # the same rows as a DataFrame (files with labels via the CLI, the SDK, the analytics batch Parquet)
        if model == "price":
            frame = pl.DataFrame([{k: v for k, v in r.items() if k != "features"} | r["features"] for r in rows])
            await _refused(pool, ingest.log_predictions(model, frame), BAD, field)


@pytest.mark.parametrize("value", BEYOND)
async def test_labels_and_metrics_beyond_the_bounds_are_refused(
    value: float, pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService,
) -> None:
    await ingest.log_predictions("price", [_reg(k) for k in range(5)])
    labels = [{"prediction_id": f"r{k}", "label": value if k == BAD else 1.0} for k in range(5)]
    await _refused(pool, ingest.log_labels("price", labels), BAD, "label")
    await _refused(pool, ingest.log_labels("price", pl.DataFrame(labels, schema={"prediction_id": pl.Utf8,
                                                                                 "label": pl.Float64})),
                   BAD, "label")
    metrics = [{"name": "cost", "value": value if k == BAD else 1.0, "time": iso(T0)} for k in range(5)]
    await _refused(pool, ingest.log_metrics(metrics, model_name="price"), BAD, "value")
    frame = pl.DataFrame(metrics).with_columns(pl.col("time").str.to_datetime(time_zone="UTC"))
    await _refused(pool, ingest.log_metrics(metric_rows(frame)), BAD, "value")


async def test_values_at_the_bounds_are_stored_and_refresh_to_numpy(
    pool: asyncpg.Pool, uow: UnitOfWork, models: dict[str, ModelSpec], ingest: IngestService,
) -> None:
    # an active baseline, so that the feature windows (sums of squared values) are refreshed too
    await BaselineService(uow).create_from_frame("price", "ref", pl.DataFrame(
        {"rooms": [1.0, 2.0, 3.0], "area": [10.0, 20.0, 30.0], "city": ["a", "b", "a"]}))
    edge = [1e100, -1e100, 1e-100, -1e-100, 0.0, 3.5]
    preds = np.array(edge + edge[::-1])
    labels = np.array(edge[::-1] + edge)
    latency = np.array([1e100, 1e-100, 0.0, 7.0] * 3)
    rows = [_reg(k, prediction=float(preds[k]), latency_ms=float(latency[k]),
                 features={"rooms": float(preds[k]), "area": float(labels[k])}) for k in range(len(preds))]
    assert (await ingest.log_predictions("price", rows)).written == len(rows)
    half = len(rows) // 2
    await ingest.log_labels("price", [{"prediction_id": f"r{k}", "label": float(labels[k])} for k in range(half)])
    await ingest.log_predictions("price", [dict(rows[k], prediction_id=f"s{k}", label=float(labels[k]))
                                           for k in range(half, len(rows))])
    pid = models["price"].id
    stored = {r["prediction_id"]: r for r in await pool.fetch(
        "SELECT prediction_id, predicted_value, label_value, latency_ms, num_features FROM predictions "
        "WHERE model_id = $1", pid)}
    assert [stored[f"r{k}"]["predicted_value"] for k in range(len(rows))] == preds.tolist()
    assert [stored[f"r{k}"]["label_value"] for k in range(half)] == labels[:half].tolist()
    assert [stored[f"s{k}"]["label_value"] for k in range(half, len(rows))] == labels[half:].tolist()
    assert [stored[f"r{k}"]["latency_ms"] for k in range(len(rows))] == latency.tolist()
    metric_values = np.array(edge)
    await ingest.log_metrics([{"name": "cost", "value": float(v), "time": iso(T0 + timedelta(minutes=k))}
                              for k, v in enumerate(metric_values)], model_name="price")

    report = await refresh_windows(pool)
    assert report.failed == ()
    # raw rows, one minute each: r_k (labelled for k < half) and, for k >= half, s_k (labelled) beside it
    wins = {r["bucket"]: r for r in await pool.fetch(
        "SELECT bucket, sum(n) AS n, sum(reg_n) AS reg_n, sum(sq_err_sum) AS sq, sum(err_sum) AS err,"
        " sum(y_sum) AS y, sum(y2_sum) AS y2, sum(pred_value_sum) AS ps, sum(pred_value_sumsq) AS pss,"
        " sum(latency_sum) AS ls, min(latency_min) AS lmin, max(latency_max) AS lmax"
        " FROM predictions_1m WHERE model_id = $1 GROUP BY bucket", pid)}
    assert len(wins) == len(rows)
    for k in range(len(rows)):
        w = wins[T0 + timedelta(minutes=k)]
        copies = 1 if k < half else 2
        p, lat = np.full(copies, preds[k]), np.full(copies, latency[k])
        py, y = np.array([preds[k]]), np.array([labels[k]])  # one labelled row per minute
        assert (w["n"], w["reg_n"]) == (copies, 1)
        close(w["sq"], (py - y) ** 2)
        close(w["err"], py - y)
        close(w["y"], y)
        close(w["y2"], y ** 2)
        close(w["ps"], p)
        close(w["pss"], p ** 2)
        close(w["ls"], lat)
        assert (w["lmin"], w["lmax"]) == (latency[k], latency[k])
    feats = {(r["bucket"], r["feature"]): r for r in await pool.fetch(
        "SELECT bucket, feature, n, missing, value_sum, value_sumsq, value_min, value_max FROM feature_hist_1m"
        " WHERE model_id = $1 AND feature IN ('rooms', 'area')", pid)}
    assert len(feats) == 2 * len(rows)
    for k in range(len(rows)):
        copies = 1 if k < half else 2
        for name, v in (("rooms", preds[k]), ("area", labels[k])):
            f = feats[(T0 + timedelta(minutes=k), name)]
            x = np.full(copies, v)
            assert (f["n"], f["missing"]) == (copies, 0)
            close(f["value_sum"], x)
            close(f["value_sumsq"], x ** 2)
            assert (f["value_min"], f["value_max"]) == (v, v)
    met = {r["bucket"]: r for r in await pool.fetch(
        "SELECT bucket, n, value_sum, value_sumsq, value_min, value_max FROM metrics_1m"
        " WHERE model_id = $1 AND name = 'cost'", pid)}
    assert len(met) == len(metric_values)
    for k, v in enumerate(metric_values):
        m = met[T0 + timedelta(minutes=k)]
        assert m["n"] == 1
        close(m["value_sum"], np.array([v]))
        close(m["value_sumsq"], np.array([v]) ** 2)
        assert (m["value_min"], m["value_max"]) == (v, v)


async def test_tiny_scores_and_probabilities_are_stored_as_zero(
    pool: asyncpg.Pool, models: dict[str, ModelSpec], ingest: IngestService,
) -> None:
    rows = [dict(good_binary_row(k), score=s, label="stay") for k, s in enumerate([1e-170, 1e-100, 0.0, 0.7])]
    iris = [{"prediction_id": f"i{k}", "time": iso(T0 + timedelta(minutes=k)), "label": "virginica",
             "probabilities": p, "features": {"x0": 1.0}}
            for k, p in enumerate([[1e-200, 0.25, 0.75], [1e-100, 0.5, 0.5]])]
    await ingest.log_predictions("churn", rows)
    await ingest.log_predictions("iris", iris)
    scores = dict(await pool.fetch("SELECT prediction_id, score FROM predictions WHERE model_id = $1",
                                   models["churn"].id))
    assert [scores[f"g-{k}"] for k in range(4)] == [0.0, 1e-100, 0.0, 0.7]
    probs = dict(await pool.fetch("SELECT prediction_id, probabilities FROM predictions WHERE model_id = $1",
                                  models["iris"].id))
    assert [list(probs["i0"]), list(probs["i1"])] == [[0.0, 0.25, 0.75], [1e-100, 0.5, 0.5]]
    assert (await refresh_windows(pool)).failed == ()
    brier = await pool.fetchval("SELECT sum(brier_sum) FROM predictions_1m WHERE model_id = $1", models["churn"].id)
    np.testing.assert_allclose(brier, sum(s * s for s in [0.0, 1e-100, 0.0, 0.7]), rtol=1e-12)


async def test_uploaded_baseline_refuses_out_of_bound_values(uow: UnitOfWork, models: dict[str, ModelSpec]) -> None:
    """A reference frame is bounded like ingest (the baseline's sums of squares are float8 too): each
    out-of-bound numeric feature, prediction or label names its row and field, and no baseline is stored."""
    svc = BaselineService(uow)
    for field in ("rooms", "predicted_value", "label"):
        for value in BEYOND:
            frame = {"rooms": [1.0, 2.0, 3.0, 4.0], "area": [10.0, 20.0, 30.0, 40.0],
                     "predicted_value": [1.0, 2.0, 3.0, 4.0], "label": [1.5, 2.5, 3.5, 4.5]}
            frame[field] = [v if i != BAD else value for i, v in enumerate(frame[field])]
            with pytest.raises(ValidationError) as err:
                await svc.create_from_frame("price", "ref", pl.DataFrame(frame))
            assert [(e.row, e.field, e.reason) for e in err.value.errors] == [(BAD, field, MAGNITUDE_REASON)], value
    assert await svc.list("price") == ()
    at_bounds = pl.DataFrame({"rooms": [1e100, -1e-100, 0.0, 3.0], "area": [10.0, 20.0, 30.0, 40.0]})
    assert (await svc.create_from_frame("price", "edge", at_bounds)).info.name == "edge"
