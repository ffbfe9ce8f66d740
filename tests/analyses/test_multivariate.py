"""Multivariate drift (domain classifier, PCA reconstruction) from bounded raw samples, against the same
scikit-learn pipeline written out here on the raw rows of exactly those windows (same seed → same AUC)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler

from engine.algorithms.drift.mixed_rows import MultivariateParams
from engine.domain import ModelSpec, NewModel
from engine.errors import ValidationError
from engine.services.analyses.multivariate import MultivariateDriftService
from engine.services.baselines.service import BaselineService
from engine.services.models import ModelService
from engine.store import models_repo
from engine.store.unit import UnitOfWork
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows
from tests.ingest.support import register_all

pytestmark = pytest.mark.asyncio


async def _setup(pool: asyncpg.Pool, n_ref: int = 1500, n_cur: int = 1500, shifted: bool = True) -> dict[str, ModelSpec]:
    models = await register_all(pool)
    rng = np.random.default_rng(11)
    async with pool.acquire() as conn:
        m = models["churn"]
        v1, v2 = await models_repo.list_versions(conn, m.id)
        await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, n_ref, prefix="ref")
        await insert_rows(conn, m, v1.id, rng, CUR_START, CUR_END, n_cur, shifted=shifted, prefix="cur")
        await insert_rows(conn, m, v2.id, rng, CUR_START, CUR_END, 400, shifted=False, prefix="v2")
    return models


async def _raw(conn: asyncpg.Connection, m: ModelSpec, start: Any, end: Any, version_id: int | None = None
               ) -> tuple[np.ndarray, list[list[Any]]]:
    rows = await conn.fetch(
        "SELECT num_features, cat_features FROM predictions WHERE model_id = $1 AND time >= $2 AND time < $3 "
        "AND ($4::integer IS NULL OR version_id = $4) ORDER BY time, prediction_id", m.id, start, end, version_id)
    nn, nc = len(m.numeric_features), len(m.categorical_features)
    num = np.array([[np.nan if v is None else v for v in (r[0] or [None] * nn)] for r in rows], dtype=float)
    return num.reshape(len(rows), nn), [list(r[1] or [None] * nc) for r in rows]


def _encode(ref_num: np.ndarray, ref_cat: list[list[Any]], num: np.ndarray, cat: list[list[Any]], onehot: bool) -> np.ndarray:
    """Median / most-frequent imputation, standardised numerics, one-hot (reference levels by frequency, then
    'other') or reference-frequency categoricals — written out independently of the engine."""
    med = np.array([np.nanmedian(c) for c in ref_num.T])
    ref_f = np.where(np.isnan(ref_num), med, ref_num)
    mean, std = ref_f.mean(axis=0), ref_f.std(axis=0)
    cols = [(np.where(np.isnan(num), med, num) - mean) / np.where(std > 0, std, 1)]
    for j in range(len(ref_cat[0])):
        counts = Counter(r[j] for r in ref_cat if r[j] is not None)
        mode = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        counts[mode] += sum(r[j] is None for r in ref_cat)
        levels = [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        vals = [mode if r[j] is None else r[j] for r in cat]
        if onehot:
            cols.append(np.array([[float(v == lv) for lv in levels] + [float(v not in levels)] for v in vals]))
        else:
            cols.append(np.array([[counts.get(v, 0) / len(ref_cat)] for v in vals]))
    return np.hstack(cols)


def _sklearn_auc(ref: np.ndarray, cur: np.ndarray, seed: int, folds: int = 3) -> float:
    x = np.vstack([ref, cur])
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    state = int(np.random.default_rng(seed + 1).integers(2**31 - 1))
    clf = HistGradientBoostingClassifier(max_iter=50, random_state=state)
    scores = cross_val_predict(clf, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=state),
                               method="predict_proba")[:, 1]
    return float(roc_auc_score(y, scores))


async def test_domain_classifier_equals_sklearn_on_raw_rows(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    models = await _setup(pool)
    m = models["churn"]
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    svc = MultivariateDriftService(uow)
    report = await svc.multivariate("churn", CUR_START, CUR_END, version="v1", params=MultivariateParams(seed=3))
    async with pool.acquire() as conn:
        v1 = (await models_repo.list_versions(conn, m.id))[0]
        ref_num, ref_cat = await _raw(conn, m, REF_START, REF_END)
        cur_num, cur_cat = await _raw(conn, m, CUR_START, CUR_END, v1.id)
    assert report.status == "ok" and report.n_reference == 1500 and report.n_current == 1500
    expected = _sklearn_auc(_encode(ref_num, ref_cat, ref_num, ref_cat, True),
                            _encode(ref_num, ref_cat, cur_num, cur_cat, True), seed=3)
    assert report.statistic == pytest.approx(expected, abs=1e-9)
    assert report.drift and report.statistic > report.threshold > 0.5
    assert report.ci_lower is not None and report.ci_lower < report.statistic < (report.ci_upper or 0)
    assert set(report.imputed_current) == {"age", "plan", "channel"}  # ~5 % missing in those
    assert report.imputed_current["age"] == int(np.isnan(cur_num[:, 0]).sum())


async def test_unshifted_window_does_not_drift_and_version_filters(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    await _setup(pool)
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    svc = MultivariateDriftService(uow)
    for method in ("domain_classifier", "pca"):
        same = await svc.multivariate("churn", CUR_START, CUR_END, method=method, version="v2")
        assert same.status == "ok" and same.n_current == 400 and not same.drift, (method, same)
        assert same.filters == {} and same.version == "v2"
        shifted = await svc.multivariate("churn", CUR_START, CUR_END, method=method, version="v1",
                                         filters={"region": "eu"})
        assert shifted.drift, (method, shifted)
    none = await svc.multivariate("churn", CUR_START, CUR_END, filters={"region": "us"})
    assert none.status == "no_data" and none.statistic is None and not none.drift


async def test_pca_equals_sklearn_on_raw_rows(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    models = await _setup(pool)
    m = models["churn"]
    svc = MultivariateDriftService(uow)
    # a reference window this time (raw rows on both sides), persisted
    report = await svc.multivariate("churn", CUR_START, CUR_END, method="pca", reference_start=REF_START,
                                    reference_end=REF_END, persist=True)
    async with pool.acquire() as conn:
        ref_num, ref_cat = await _raw(conn, m, REF_START, REF_END)
        cur_num, cur_cat = await _raw(conn, m, CUR_START, CUR_END)
        stored = await conn.fetch("SELECT statistic, value, threshold FROM analysis_results WHERE analysis = "
                                  "'multivariate_drift' AND model_id = $1", m.id)
    ref = _encode(ref_num, ref_cat, ref_num, ref_cat, False)
    cur = _encode(ref_num, ref_cat, cur_num, cur_cat, False)
    scaler = StandardScaler().fit(ref)
    pca = PCA(n_components=0.65, svd_solver="full").fit(scaler.transform(ref))

    def errors(x: np.ndarray) -> np.ndarray:
        z = scaler.transform(x)
        return np.sqrt(((z - pca.inverse_transform(pca.transform(z))) ** 2).sum(axis=1))

    chunk_means = np.array([c.mean() for c in np.array_split(errors(ref), 10)])
    upper = chunk_means.mean() + 3 * chunk_means.std(ddof=1)
    assert report.statistic == pytest.approx(errors(cur).mean(), abs=1e-9)
    assert report.threshold == pytest.approx(upper, abs=1e-8)
    assert report.details["n_components"] == pca.n_components_
    assert report.n_current == 1900 and report.drift
    assert [(r["statistic"], r["threshold"]) for r in stored] == [("multivariate:pca", report.threshold)]
    assert stored[0]["value"] == pytest.approx(report.statistic)


async def test_row_cap_sample_is_reproducible(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    await _setup(pool)
    svc = MultivariateDriftService(uow)
    kw: dict[str, Any] = {"reference_start": REF_START, "reference_end": REF_END, "row_cap": 300}
    a = await svc.multivariate("churn", CUR_START, CUR_END, params=MultivariateParams(seed=5), **kw)
    b = await svc.multivariate("churn", CUR_START, CUR_END, params=MultivariateParams(seed=5), **kw)
    c = await svc.multivariate("churn", CUR_START, CUR_END, params=MultivariateParams(seed=6), **kw)
    assert a.n_current == a.n_reference == 300 and a.n_current_rows == 1900
    assert a.statistic == b.statistic and a.statistic != c.statistic


async def test_uploaded_baseline_keeps_a_sample_and_no_features_is_empty(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    import polars as pl

    await _setup(pool)
    rng = np.random.default_rng(2)
    frame = pl.DataFrame({"age": rng.normal(40, 10, 800), "income": rng.lognormal(10, 1, 800),
                          "tenure": rng.normal(0, 1, 800), "plan": rng.choice(["basic", "pro"], 800),
                          "channel": rng.choice(["a", "b", "c"], 800)})
    await BaselineService(uow).create_from_frame("churn", "up", frame)
    svc = MultivariateDriftService(uow)
    r = await svc.multivariate("churn", CUR_START, CUR_END, method="pca", version="v2")
    assert r.status == "ok" and r.n_reference == 800 and r.reference == "baseline:up"
    await ModelService(uow).create_model(NewModel(name="bare", task="regression", features=[]))
    await BaselineService(uow).create_from_frame("bare", "b0", pl.DataFrame({"predicted_value": [1.0, 2.0]}))
    empty = await svc.multivariate("bare", CUR_START, CUR_END)
    assert empty.status == "no_features" and empty.features == () and not empty.drift
    with pytest.raises(ValidationError):
        await svc.multivariate("churn", CUR_START, CUR_END, method="umap")
    with pytest.raises(ValidationError):
        await svc.multivariate("churn", CUR_START, CUR_END, row_cap=10**6)
    with pytest.raises(ValidationError):
        await svc.multivariate("churn", CUR_START, CUR_START - timedelta(hours=1))


async def test_rest_and_cli(pool: asyncpg.Pool, client: Any, db_url: str, capfd: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from engine.cli.main import main

    await _setup(pool)
    r = await client.post("/api/v1/models/churn/baselines/", json={"name": "ref", "start": REF_START.isoformat(),
                                                                 "end": REF_END.isoformat()})
    assert r.status_code == 201, r.text
    params = {"start": CUR_START.isoformat(), "end": CUR_END.isoformat(), "method": "pca", "version": "v1",
              "filter": "region=eu"}
    r = await client.get("/api/v1/models/churn/drift/multivariate", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["drift"] and body["n_current"] == 1500 and body["filters"] == {"region": "eu"}
    r = await client.post("/api/v1/models/churn/drift/multivariate", params=params,
                          headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["statistic"] == body["statistic"]
    for bad, field in (({"method": "umap"}, "method"), ({"row_cap": "5"}, "row_cap"), ({"version": "v9"}, None),
                       ({"reference_start": REF_START.isoformat()}, "reference_start"), ({"variance": "1.5"}, "variance")):
        r = await client.get("/api/v1/models/churn/drift/multivariate", params={**params, **bad})
        assert r.status_code == (404 if field is None else 422), (bad, r.status_code, r.text)
        assert field is None or field in r.text
    r = await client.get("/api/v1/models/nope/drift/multivariate", params=params)
    assert r.status_code == 404
    monkeypatch.setenv("DRIFTLINE_DATABASE_URL", db_url)
    window = ["--start", CUR_START.isoformat(), "--end", CUR_END.isoformat()]
    assert await asyncio.to_thread(main, ["analyze", "multivariate", "churn", *window, "--method", "pca",
                                          "--version", "v1"]) == 0
    out = capfd.readouterr().out
    assert "pca drift" in out and "DRIFT" in out and "THRESHOLD" in out and "imputed" in out
    assert await asyncio.to_thread(main, ["analyze", "drift", "churn", *window, "--version", "v2",
                                          "--filter", "region=eu"]) == 0
    out = capfd.readouterr().out
    assert "version v2" in out and "raw rows" in out


async def test_a_baseline_without_a_sample_is_a_clear_422(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    await _setup(pool)
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    async with pool.acquire() as conn:
        n = await conn.fetchval("SELECT count(*) FROM baseline_samples")
        assert n == 1500  # every reference row (fewer than the 20 000 kept)
        await conn.execute("DELETE FROM baseline_samples")  # as a baseline created before migration 0011
    with pytest.raises(ValidationError) as err:
        await MultivariateDriftService(uow).multivariate("churn", CUR_START, CUR_END)
    assert "recreate" in str(err.value.errors) and err.value.errors[0].field == "reference"
