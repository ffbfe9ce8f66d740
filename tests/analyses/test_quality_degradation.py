"""Data quality and degradation from the stored windows, against the same computations on the raw rows of
the window: rates, counts and metrics exact to 1e-9 (ROC AUC from the score histogram within its bound)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest
from sklearn import metrics as skm

from engine.algorithms.degradation import DegradationConfig, assess_metric
from engine.services.analyses.degradation import DegradationService
from engine.services.analyses.quality import QualityService
from engine.services.baselines.service import BaselineService
from engine.store import models_repo
from engine.store.feature_bins import active_baselines
from engine.store.unit import UnitOfWork
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows, raw_feature
from tests.conftest import refresh_windows
from tests.ingest.support import register_all

pytestmark = pytest.mark.asyncio
MODELS = ("churn", "iris", "price")


async def _setup(pool: asyncpg.Pool, labeled: bool = True) -> dict:
    models = await register_all(pool)
    rng = np.random.default_rng(11)
    async with pool.acquire() as conn:
        for m in models.values():
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 2000, prefix="ref")
            await insert_rows(conn, m, v1.id, rng, CUR_START, CUR_END, 1200, shifted=True, labeled=labeled,
                              prefix="cur")
        await conn.execute(
            "UPDATE predictions SET label_time = time + make_interval(secs => 60 + abs(hashtext(prediction_id)) % 900)"
            " WHERE label_class IS NOT NULL OR label_value IS NOT NULL")
    return models


async def _raw(conn: asyncpg.Connection, model_id: int) -> list[Any]:
    return await conn.fetch(
        "SELECT time, predicted_class, label_class, score, predicted_value, label_value, label_time FROM predictions"
        " WHERE model_id = $1 AND time >= $2 AND time < $3", model_id, CUR_START, CUR_END)


@pytest.mark.parametrize("refreshed", [False, True])
async def test_quality_from_windows_equals_raw_rows(pool: asyncpg.Pool, uow: UnitOfWork, refreshed: bool) -> None:
    models = await _setup(pool)
    for name in MODELS:
        await BaselineService(uow).create_from_range(name, "ref", REF_START, REF_END)
    churn = models["churn"]
    async with pool.acquire() as conn:
        for i, (field, reason) in enumerate([("age", "not a number"), ("age", "not a number"), ("plan", "missing")]):
            await conn.execute(
                "INSERT INTO rejected_rows (received_at, kind, model_id, row_index, field, reason)"
                " VALUES ($1, 'predictions', $2, $3, $4, $5)", CUR_START + timedelta(minutes=i), churn.id, i, field, reason)
    if refreshed:
        await refresh_windows(pool)
    for name in MODELS:
        m = models[name]
        report = await QualityService(uow).quality(
            name, CUR_START, CUR_END, rules=[{"check": "not_null", "column": m.features[0].name}],
            max_staleness_s=60.0)
        async with pool.acquire() as conn:
            bins = {b.feature: b for b in await active_baselines(conn, m.id)}
            raw = await _raw(conn, m.id)
            assert report.n == len(raw)
            for f in report.features:
                values = await raw_feature(conn, m, f.feature, CUR_START, CUR_END)
                b = bins[f.feature]
                if f.kind == "numeric":
                    missing = [v is None or math.isnan(v) for v in values]
                    present = [v for v, miss in zip(values, missing, strict=True) if not miss]
                    oor = sum((b.lower is not None and v < b.lower) or (b.upper is not None and v > b.upper)
                              for v in present)
                else:
                    missing = [v is None for v in values]
                    unseen = Counter(v for v in values if v is not None and v not in (b.categories or ()))
                    oor = sum(unseen.values())
                    expected = sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
                    assert [(u.value, u.count) for u in f.unseen_top] == expected
                assert f.n == len(values) and f.missing == sum(missing) and f.out_of_range == oor
                assert f.missing_rate == pytest.approx(sum(missing) / len(values), abs=1e-9)
                assert f.status == ("issue" if sum(missing) / len(values) > 0.05 or oor / len(values) > 0.05 else "ok")
            if name == "churn":
                assert any(f.feature == "channel" and f.unseen_top and f.unseen_top[0].value == "partner"
                           for f in report.features)
                assert report.n_rejected == 3
                assert {(r.field, r.reason, r.count) for r in report.rejected} == {("age", "not a number", 2),
                                                                                     ("plan", "missing", 1)}
            else:
                assert report.n_rejected == 0
            last = max(r["time"] for r in raw)
            assert report.freshness.last_prediction == last
            assert report.freshness.seconds_since_last_prediction == pytest.approx((CUR_END - last).total_seconds())
            assert report.freshness.stale == ((CUR_END - last).total_seconds() > 60)
            delays = [(r["label_time"] - r["time"]).total_seconds() for r in raw if r["label_time"] is not None]
            assert report.freshness.labels_with_delay == len(delays)
            assert report.freshness.label_delay_mean_s == pytest.approx(float(np.mean(delays)), abs=1e-6)
            assert report.freshness.label_delay_max_s == pytest.approx(max(delays), abs=1e-6)
            [rule] = report.rules
            first = await raw_feature(conn, m, m.features[0].name, CUR_START, CUR_END)
            assert rule.n_rows == len(first)
            assert rule.n_failed == sum(v is None or (isinstance(v, float) and math.isnan(v)) for v in first)
            stored = await conn.fetch("SELECT subject, statistic, value FROM analysis_results WHERE model_id = $1"
                                      " AND analysis = 'quality'", m.id)
            assert {(r["subject"], r["statistic"]) for r in stored} >= {(f.feature, "missing_rate")
                                                                       for f in report.features}


def _expected(task: str, labels: tuple[str, ...], raw: list[Any]) -> dict[str, float]:
    if task == "regression":
        y = np.array([r["label_value"] for r in raw if r["label_value"] is not None])
        p = np.array([r["predicted_value"] for r in raw if r["label_value"] is not None])
        return {"mse": skm.mean_squared_error(y, p), "mae": skm.mean_absolute_error(y, p),
                "rmse": math.sqrt(skm.mean_squared_error(y, p)), "r2": skm.r2_score(y, p)}
    rows = [r for r in raw if r["label_class"] is not None]
    y = [r["label_class"] for r in rows]
    p = [r["predicted_class"] for r in rows]
    out = {"accuracy": skm.accuracy_score(y, p)}
    if task == "binary":
        kw: dict[str, Any] = {"pos_label": labels[-1], "zero_division": 0}
        out |= {"precision": skm.precision_score(y, p, **kw), "recall": skm.recall_score(y, p, **kw),
                "f1": skm.f1_score(y, p, **kw)}
    else:
        kw = {"average": "macro", "labels": list(labels), "zero_division": 0}
        out |= {"precision_macro": skm.precision_score(y, p, **kw), "recall_macro": skm.recall_score(y, p, **kw),
                "f1_macro": skm.f1_score(y, p, **kw)}
    return out


@pytest.mark.parametrize("refreshed", [False, True])
async def test_degradation_from_windows_equals_raw_rows(pool: asyncpg.Pool, uow: UnitOfWork, refreshed: bool) -> None:
    models = await _setup(pool)
    details = {name: await BaselineService(uow).create_from_range(name, "ref", REF_START, REF_END) for name in MODELS}
    if refreshed:
        await refresh_windows(pool)
    cfg = DegradationConfig()
    for name in MODELS:
        m = models[name]
        report = await DegradationService(uow).degradation(name, CUR_START, CUR_END)
        async with pool.acquire() as conn:
            raw = await _raw(conn, m.id)
            stored = await conn.fetch("SELECT subject, value, status FROM analysis_results WHERE model_id = $1"
                                      " AND analysis = 'degradation'", m.id)
        expected = _expected(m.task, tuple(m.class_labels or ()), raw)
        ref = details[name].performance["metrics"]
        by_metric = {c.metric: c for c in report.metrics}
        assert set(by_metric) == {k for k in ref if k != "log_loss" or k in by_metric}
        for metric, value in expected.items():
            c = by_metric[metric]
            assert c.current == pytest.approx(value, abs=1e-9), metric
            assert c.baseline == ref[metric]
            a = assess_metric(metric, ref[metric], c.current, cfg)
            assert c.relative_degradation == pytest.approx(a.relative_degradation, abs=1e-12)
            assert c.severity == a.severity and c.degraded == a.degraded and c.retrain == a.retrain
            assert c.n_current == sum(r["label_class" if m.task != "regression" else "label_value"] is not None
                                      for r in raw)
            if metric == "accuracy":
                assert c.interval is not None and c.interval[0] <= c.current <= c.interval[1]
        if "roc_auc" in by_metric:
            rows = [r for r in raw if r["label_class"] is not None]
            auc = skm.roc_auc_score([r["label_class"] == m.class_labels[-1] for r in rows], [r["score"] for r in rows])
            bound = by_metric["roc_auc"].bound
            assert bound is not None and abs(by_metric["roc_auc"].current - auc) <= bound + 1e-12
        assert report.retrain == any(c.retrain for c in report.metrics)
        assert {r["subject"] for r in stored} == {*by_metric, "*"}
        summary = await DegradationService(uow).performance_summary(name, 1, CUR_END)
        assert summary.degradation_summary.total_alerts == sum(c.degraded for c in report.metrics)
        assert summary.degradation_summary.retrain_recommended == report.retrain
        strict = await DegradationService(uow).degradation(name, CUR_START, CUR_END, min_samples=10_000, persist=False)
        assert {c.status for c in strict.metrics} <= {"insufficient_samples", "no_data"} and not strict.degraded


async def test_degradation_without_labels_and_summary(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    await _setup(pool, labeled=False)
    for name in MODELS:
        await BaselineService(uow).create_from_range(name, "ref", REF_START, REF_END)
        report = await DegradationService(uow).degradation(name, CUR_START, CUR_END)
        assert {c.status for c in report.metrics} == {"no_data"} and report.severity == "none"
        # the last day: the labelled reference hours and the unlabelled current hour; 3 hourly accuracies
        # (fewer than min_samples_for_trend = 10) give no trend
        summary = await DegradationService(uow).performance_summary(name, 1, CUR_END)
        assert summary.total_records == 3200 and summary.labelled_records == 2000
        assert summary.performance_trend.trend_direction == "insufficient_data"
        assert summary.performance_trend.n == 3 and summary.degradation_summary.total_alerts == 0
