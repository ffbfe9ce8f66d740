"""Label-free estimates (CBPE) of a window: equal to the library call on the raw rows (binned calibrator,
deployed decision), tracking the realised metrics on a shifted stream (seeded), realised beside estimated
once labels land, unlabelled windows, segments, versions, regression refused, results persisted."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import asyncpg
import numpy as np
import pytest
from sklearn import metrics as skm

from engine.algorithms.performance.cbpe import estimate_performance
from engine.algorithms.performance.cbpe_binned import BinnedCalibrator, bin_of, estimate_multiclass
from engine.domain import ModelSpec
from engine.errors import NotFoundError, ValidationError
from engine.services.analyses.estimate import EstimateService
from engine.services.baselines.service import BaselineService
from engine.store import models_repo
from engine.store.unit import UnitOfWork
from tests.analyses.support import (
    COLUMNS,
    CUR_END,
    CUR_START,
    REF_END,
    REF_START,
    feature_values,
    insert_rows,
)
from tests.ingest.support import register_all

pytestmark = pytest.mark.asyncio


async def insert_scored(
    conn: asyncpg.Connection, model: ModelSpec, version_id: int, rng: np.random.Generator, start: datetime,
    end: datetime, n: int, *, shift: float = 0.0, labeled: bool = True, prefix: str = "s", region: str = "eu",
) -> None:
    """Classifier rows whose scores are calibrated (P(y | score) = score) and whose score distribution is
    shifted by `shift` (a covariate shift: the labels' law given the score is unchanged)."""
    labels = list(model.class_labels or ())
    span = (end - start).total_seconds()
    rows = []
    for i in range(n):
        t = start + timedelta(seconds=float(rng.uniform(0, span)))
        score = probs = None
        if model.task == "binary":
            score = float(rng.beta(1 + 3 * shift, 1))
            pred = labels[1] if score >= model.threshold else labels[0]
            label = labels[1] if rng.random() < score else labels[0]
        else:
            p = rng.dirichlet(np.array([1 + 4 * shift, 1.0, 1.0]))
            probs = [float(x) for x in p]
            pred = labels[int(np.argmax(p))]
            label = labels[int(rng.choice(len(labels), p=p))]
        rows.append((t, model.id, version_id, f"{prefix}-{i}", pred, None, score, probs,
                     json.dumps({"region": region}), *feature_values(model, rng, False),
                     label if labeled else None, None))
    await conn.copy_records_to_table("predictions", records=rows, columns=COLUMNS)


async def _raw(pool: asyncpg.Pool, model: ModelSpec, start: datetime, end: datetime) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT score, probabilities, predicted_class, label_class FROM predictions "
                                "WHERE model_id = $1 AND time >= $2 AND time < $3", model.id, start, end)


async def _setup(pool: asyncpg.Pool, name: str, shift: float, labeled: bool = True) -> ModelSpec:
    models = await register_all(pool)
    m = models[name]
    rng = np.random.default_rng(17)
    async with pool.acquire() as conn:
        [v1, *_] = await models_repo.list_versions(conn, m.id)
        await insert_scored(conn, m, v1.id, rng, REF_START, REF_END, 4000, prefix="ref")
        await insert_scored(conn, m, v1.id, rng, CUR_START, CUR_END, 3000, shift=shift, labeled=labeled, prefix="cur")
    return m


async def test_binary_equals_library_on_raw_rows_and_tracks_realised(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    m = await _setup(pool, "churn", shift=1.0)
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    rep = await EstimateService(uow).estimate("churn", CUR_START, CUR_END, seed=3)
    ref = await _raw(pool, m, REF_START, REF_END)
    cur = await _raw(pool, m, CUR_START, CUR_END)
    pos = m.class_labels[1]  # type: ignore[index]
    cal = BinnedCalibrator.fit([r["label_class"] == pos for r in ref], [r["score"] for r in ref])
    s = np.array([r["score"] for r in cur])
    y_pred = np.array([r["predicted_class"] == pos for r in cur])
    assert np.array_equal(y_pred, s >= m.threshold)  # the deployed decision: the model's threshold (0.3)
    lib = estimate_performance(cal.apply(s), scores=bin_of(s).astype(float), y_pred=y_pred, seed=3)
    y = np.array([r["label_class"] == pos for r in cur])
    realised = {"accuracy": skm.accuracy_score(y, y_pred), "precision": skm.precision_score(y, y_pred),
                "recall": skm.recall_score(y, y_pred), "f1": skm.f1_score(y, y_pred),
                "roc_auc": skm.roc_auc_score(y, s)}
    assert rep.decision.startswith("score >= 0.3") and rep.n == 3000 and rep.n_labelled == 3000
    assert rep.calibration_n == 4000
    by = {x.metric: x for x in rep.metrics}
    for name, real in realised.items():
        x = by[name]
        assert x.estimated == pytest.approx(lib.metric(name).value, abs=1e-9), name
        # tracks the realised metric: within the band, widened for the bin-level calibration error
        assert abs(x.estimated - real) <= 3 * x.sampling_error + 0.02, (name, x.estimated, real)
        if name != "roc_auc":
            assert x.realised == pytest.approx(real, abs=1e-12), name
        else:  # realised AUC from the 100 score bins (ties within a bin): close to the exact one
            assert x.realised == pytest.approx(real, abs=0.01)
        assert x.n_realised == 3000 and x.reference is not None and x.status in ("ok", "degraded")
    # the shift moved the metrics, and the estimate followed (the reference's accuracy differs)
    assert abs(by["accuracy"].reference - realised["accuracy"]) > 0.03  # type: ignore[operator]
    assert rep.realised_confusion is not None and sum(map(sum, rep.realised_confusion)) == 3000


async def test_multiclass_equals_library_on_raw_rows_and_tracks(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    m = await _setup(pool, "iris", shift=1.0)
    await BaselineService(uow).create_from_range("iris", "ref", REF_START, REF_END)
    rep = await EstimateService(uow).estimate("iris", CUR_START, CUR_END)
    labels = list(m.class_labels or ())
    ref = await _raw(pool, m, REF_START, REF_END)
    cur = await _raw(pool, m, CUR_START, CUR_END)
    rp = np.array([r["probabilities"] for r in ref])
    ry = np.array([r["label_class"] for r in ref], dtype=object)
    cals = [BinnedCalibrator.fit(ry == lab, rp[:, j]) for j, lab in enumerate(labels)]
    cp = np.array([r["probabilities"] for r in cur])
    pred = np.array([labels.index(r["predicted_class"]) for r in cur])
    assert np.array_equal(pred, cp.argmax(axis=1))
    lib = estimate_multiclass(np.column_stack([c.apply(cp[:, j]) for j, c in enumerate(cals)]), pred)
    y = np.array([labels.index(r["label_class"]) for r in cur])
    realised = {"accuracy": skm.accuracy_score(y, pred),
                "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
                "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
                "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0)}
    assert rep.decision == "arg-max class"
    for x in rep.metrics:
        assert x.estimated == pytest.approx(lib.metric(x.metric).value, abs=1e-9), x.metric
        assert x.realised == pytest.approx(realised[x.metric], abs=1e-12), x.metric
        assert abs(x.estimated - realised[x.metric]) <= 3 * x.sampling_error + 0.03, x.metric  # type: ignore[operator]


async def test_unlabelled_window_is_estimated_and_persisted(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    await _setup(pool, "churn", shift=0.5, labeled=False)
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    svc = EstimateService(uow)
    for _ in range(2):
        rep = await svc.estimate("churn", CUR_START, CUR_END)
    assert rep.n == 3000 and rep.n_labelled == 0 and rep.realised_confusion == ((0, 0), (0, 0))
    assert all(x.realised is None and x.estimated is not None and x.bound is not None for x in rep.metrics)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT subject, statistic, value, bound, status FROM analysis_results "
                                "WHERE analysis = 'estimated_performance'")
    assert len(rows) == len(rep.metrics)  # replaced, not appended; no realised rows without labels
    assert {r["subject"] for r in rows} == {x.metric for x in rep.metrics}
    # segments and versions: all rows are region eu of v1
    eu = await svc.estimate("churn", CUR_START, CUR_END, segment={"region": "eu"}, persist=False)
    assert [x.estimated for x in eu.metrics] == [x.estimated for x in rep.metrics]
    us = await svc.estimate("churn", CUR_START, CUR_END, segment={"region": "us"}, persist=False)
    assert us.n == 0 and all(x.status == "no_data" or x.estimated is None for x in us.metrics)
    v2 = await svc.estimate("churn", CUR_START, CUR_END, version="v2", persist=False)
    assert v2.n == 0
    with pytest.raises(NotFoundError):
        await svc.estimate("churn", CUR_START, CUR_END, version="nope", persist=False)
    with pytest.raises(ValidationError):
        await svc.estimate("churn", CUR_START, CUR_END, segment={"planet": "mars"}, persist=False)


async def test_regression_and_unlabelled_baseline_are_refused(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    models = await register_all(pool)
    rng = np.random.default_rng(1)
    async with pool.acquire() as conn:
        for m in models.values():
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 500, labeled=False, prefix="ref")
    for name in ("price", "churn"):
        await BaselineService(uow).create_from_range(name, "ref", REF_START, REF_END)
    with pytest.raises(ValidationError, match="regression"):
        await EstimateService(uow).estimate("price", CUR_START, CUR_END)
    with pytest.raises(ValidationError, match="calibrate"):
        await EstimateService(uow).estimate("churn", CUR_START, CUR_END)
    with pytest.raises(NotFoundError):
        await EstimateService(uow).estimate("iris", CUR_START, CUR_END)  # no baseline
