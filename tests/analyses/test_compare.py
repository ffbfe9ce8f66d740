"""Comparison of two versions or two segment values over a window, against statsmodels / scipy / scikit-learn
on the raw rows: two-proportion z (p pooled, Wald interval), DeLong on the binned scores, Welch's t."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from engine.algorithms.performance.cbpe_binned import bin_of
from engine.domain import ModelSpec
from engine.errors import NotFoundError, ValidationError
from engine.services.analyses.compare import CompareService
from engine.store import models_repo
from engine.store.unit import UnitOfWork
from tests.analyses.support import COLUMNS, CUR_END, CUR_START, feature_values
from tests.analyses.test_estimate import insert_scored
from tests.conftest import refresh_windows
from tests.ingest.support import register_all

pytestmark = pytest.mark.asyncio


async def insert_regression(conn: asyncpg.Connection, model: ModelSpec, version_id: int, rng: np.random.Generator,
                            start: datetime, end: datetime, n: int, noise: float, prefix: str, region: str) -> None:
    rows = []
    for i in range(n):
        t = start + timedelta(seconds=float(rng.uniform(0, (end - start).total_seconds())))
        pred = float(rng.normal(100, 10))
        rows.append((t, model.id, version_id, f"{prefix}-{i}", None, pred, None, None, json.dumps({"region": region}),
                     *feature_values(model, rng, False), None, pred + float(rng.normal(0.5, noise))))
    await conn.copy_records_to_table("predictions", records=rows, columns=COLUMNS)


async def _setup(pool: asyncpg.Pool) -> dict[str, ModelSpec]:
    models = await register_all(pool)
    rng = np.random.default_rng(23)
    async with pool.acquire() as conn:
        for m in models.values():
            v1, v2 = (await models_repo.list_versions(conn, m.id))[:2]
            for version, region, shift, noise in ((v1, "eu", 0.0, 5.0), (v2, "us", 0.6, 6.0)):
                if m.task == "regression":
                    await insert_regression(conn, m, version.id, rng, CUR_START, CUR_END, 1500, noise,
                                            f"{region}", region)
                else:
                    await insert_scored(conn, m, version.id, rng, CUR_START, CUR_END, 1500, shift=shift,
                                        prefix=region, region=region)
    return models


async def _raw(pool: asyncpg.Pool, m: ModelSpec, region: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT score, predicted_class, label_class, predicted_value, label_value "
                                "FROM predictions WHERE model_id = $1 AND segments ->> 'region' = $2", m.id, region)


def _delong_rows(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    x, z = s[y], s[~y]
    v10 = np.array([((z < xi).sum() + 0.5 * (z == xi).sum()) / z.size for xi in x])
    v01 = np.array([((x > zj).sum() + 0.5 * (x == zj).sum()) / x.size for zj in z])
    return float(v10.mean()), float(v10.var(ddof=1) / x.size + v01.var(ddof=1) / z.size)


@pytest.mark.parametrize("refreshed", [False, True])
async def test_binary_versions_and_segments_against_libraries(pool: asyncpg.Pool, uow: UnitOfWork,
                                                              refreshed: bool) -> None:
    models = await _setup(pool)
    if refreshed:
        await refresh_windows(pool)
    m = models["churn"]
    svc = CompareService(uow)
    by_version = await svc.compare("churn", CUR_START, CUR_END, versions=("v1", "v2"))
    by_segment = await svc.compare("churn", CUR_START, CUR_END, segment="region", values=("eu", "us"), persist=True)
    assert by_version.metrics == by_segment.metrics  # v1 ↔ eu and v2 ↔ us hold the same rows
    assert by_segment.n_a == by_segment.n_b == 1500 and by_segment.n_labelled_a == 1500
    pos = m.class_labels[1]  # type: ignore[index]
    raw = {r: await _raw(pool, m, r) for r in ("eu", "us")}
    y = {r: np.array([x["label_class"] == pos for x in raw[r]]) for r in raw}
    p = {r: np.array([x["predicted_class"] == pos for x in raw[r]]) for r in raw}
    s = {r: np.array([x["score"] for x in raw[r]]) for r in raw}
    by = {x.metric: x for x in by_segment.metrics}
    for name, count, nobs in (
        ("accuracy", lambda r: (y[r] == p[r]).sum(), lambda r: y[r].size),
        ("precision", lambda r: (y[r] & p[r]).sum(), lambda r: p[r].sum()),
        ("recall", lambda r: (y[r] & p[r]).sum(), lambda r: y[r].sum()),
        ("positive_rate", lambda r: p[r].sum(), lambda r: p[r].size),
    ):
        c, n = [count("eu"), count("us")], [nobs("eu"), nobs("us")]
        _, pval = proportions_ztest(c[::-1], n[::-1])
        lo, hi = confint_proportions_2indep(c[1], n[1], c[0], n[0], method="wald")
        x = by[name]
        assert x.difference == pytest.approx(c[1] / n[1] - c[0] / n[0], abs=1e-12), name
        assert x.p_value == pytest.approx(pval, rel=1e-9, abs=1e-300), name
        assert (x.lower, x.upper) == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9)), name
        assert x.test == "two_proportion_z"
    assert by["accuracy"].significant  # the shifted version is more accurate at threshold 0.3
    f1 = by["f1"]
    assert f1.difference == pytest.approx(skm.f1_score(y["us"], p["us"]) - skm.f1_score(y["eu"], p["eu"]), abs=1e-12)
    assert f1.lower <= f1.difference <= f1.upper and f1.test == "bootstrap_confusion"  # type: ignore[operator]
    (a, va), (b, vb) = (_delong_rows(y[r], bin_of(s[r]).astype(float)) for r in ("eu", "us"))
    assert a == pytest.approx(skm.roc_auc_score(y["eu"], bin_of(s["eu"])), abs=1e-12)
    auc = by["roc_auc"]
    assert auc.a == pytest.approx(a, abs=1e-12) and auc.b == pytest.approx(b, abs=1e-12)
    assert auc.p_value == pytest.approx(2 * stats.norm.sf(abs(b - a) / np.sqrt(va + vb)), rel=1e-6)
    assert abs(auc.a - skm.roc_auc_score(y["eu"], s["eu"])) < 0.01  # type: ignore[operator]
    async with pool.acquire() as conn:
        n = await conn.fetchval("SELECT count(*) FROM analysis_results WHERE analysis = 'comparison'")
    assert n == len(by_segment.metrics)


async def test_multiclass_and_regression_against_libraries(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    models = await _setup(pool)
    svc = CompareService(uow)
    iris = await svc.compare("iris", CUR_START, CUR_END, versions=("v1", "v2"))
    labels = list(models["iris"].class_labels or ())
    raw = {r: await _raw(pool, models["iris"], r) for r in ("eu", "us")}
    y = {r: np.array([labels.index(x["label_class"]) for x in raw[r]]) for r in raw}
    p = {r: np.array([labels.index(x["predicted_class"]) for x in raw[r]]) for r in raw}
    by = {x.metric: x for x in iris.metrics}
    assert set(by) == {"accuracy", "precision_macro", "recall_macro", "f1_macro", "latency_mean_ms"}
    assert by["latency_mean_ms"].n_a == 0 and by["latency_mean_ms"].p_value is None  # the rows carry no latency
    for name, fn in (("f1_macro", skm.f1_score), ("precision_macro", skm.precision_score), ("recall_macro", skm.recall_score)):
        want = fn(y["us"], p["us"], average="macro", zero_division=0) - fn(y["eu"], p["eu"], average="macro", zero_division=0)
        assert by[name].difference == pytest.approx(want, abs=1e-12), name
        assert by[name].lower <= by[name].difference <= by[name].upper  # type: ignore[operator]
    price = await svc.compare("price", CUR_START, CUR_END, versions=("v1", "v2"))  # v1: region eu, v2: us
    raw = {r: await _raw(pool, models["price"], r) for r in ("eu", "us")}
    err = {r: np.array([x["predicted_value"] - x["label_value"] for x in raw[r]]) for r in raw}
    by = {x.metric: x for x in price.metrics}
    for name, f in (("mae", np.abs), ("mean_error", lambda e: e)):
        t = stats.ttest_ind(f(err["us"]), f(err["eu"]), equal_var=False)
        ci = t.confidence_interval(0.95)
        assert by[name].difference == pytest.approx(f(err["us"]).mean() - f(err["eu"]).mean(), abs=1e-9), name
        assert by[name].p_value == pytest.approx(t.pvalue, rel=1e-6, abs=1e-12), name
        assert (by[name].lower, by[name].upper) == (pytest.approx(ci.low, abs=1e-7), pytest.approx(ci.high, abs=1e-7))
    assert by["mae"].significant
    _check_squared_errors(by, err)
    async with pool.acquire() as conn:  # latencies (a deterministic spread per row; us 20 % slower), read raw
        await conn.execute("UPDATE predictions SET latency_ms = (5 + abs(hashtext(prediction_id)) % 1000 / 10.0)"
                           " * CASE WHEN segments ->> 'region' = 'us' THEN 1.2 ELSE 1 END WHERE model_id = $1",
                           models["price"].id)
        lat = {r: np.array([x["latency_ms"] for x in await conn.fetch(
            "SELECT latency_ms FROM predictions WHERE model_id = $1 AND segments ->> 'region' = $2",
            models["price"].id, r)]) for r in ("eu", "us")}
    by = {x.metric: x for x in (await svc.compare("price", CUR_START, CUR_END, versions=("v1", "v2"))).metrics}
    t = stats.ttest_ind(lat["us"], lat["eu"], equal_var=False)
    ci, latency = t.confidence_interval(0.95), by["latency_mean_ms"]
    assert latency.difference == pytest.approx(lat["us"].mean() - lat["eu"].mean(), rel=1e-9)
    assert latency.p_value == pytest.approx(t.pvalue, rel=1e-6, abs=1e-12) and latency.significant
    assert (latency.lower, latency.upper) == (pytest.approx(ci.low, rel=1e-7), pytest.approx(ci.high, rel=1e-7))
    assert latency.n_a == latency.n_b == 1500 and latency.test == "welch_t"
    async with pool.acquire() as conn:
        await models_repo.append_dimension(conn, "price", "region", 4)  # the windows are re-keyed with it
    by_segment = {x.metric: x for x in (await svc.compare("price", CUR_START, CUR_END, segment="region",
                                                           values=("eu", "us"))).metrics}
    assert by_segment == by  # v1 ↔ eu, v2 ↔ us: the same rows grouped by segment instead of version


def _check_squared_errors(by: dict[str, Any], err: dict[str, np.ndarray]) -> None:
    """MSE: Welch's t on e² as scipy on the raw rows; RMSE: the same p-value, the delta-method interval."""
    sq = {r: err[r] ** 2 for r in err}
    t = stats.ttest_ind(sq["us"], sq["eu"], equal_var=False)
    ci = t.confidence_interval(0.95)
    mse = by["mse"]
    assert (mse.a, mse.b) == (pytest.approx(sq["eu"].mean(), rel=1e-12), pytest.approx(sq["us"].mean(), rel=1e-12))
    assert mse.difference == pytest.approx(sq["us"].mean() - sq["eu"].mean(), rel=1e-9)
    assert mse.p_value == pytest.approx(t.pvalue, rel=1e-6, abs=1e-12) and mse.test == "welch_t"
    assert (mse.lower, mse.upper) == (pytest.approx(ci.low, rel=1e-7), pytest.approx(ci.high, rel=1e-7))
    assert mse.significant and mse.n_a == err["eu"].size and mse.n_b == err["us"].size  # noise 5 vs 6
    rmse = by["rmse"]
    ra, rb = np.sqrt(sq["eu"].mean()), np.sqrt(sq["us"].mean())
    va, vb = (sq[r].var(ddof=1) / sq[r].size / (4 * sq[r].mean()) for r in ("eu", "us"))
    df = (va + vb) ** 2 / (va**2 / (sq["eu"].size - 1) + vb**2 / (sq["us"].size - 1))
    half = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    assert rmse.difference == pytest.approx(rb - ra, rel=1e-9) and rmse.p_value == mse.p_value
    assert (rmse.lower, rmse.upper) == (pytest.approx(rb - ra - half, rel=1e-7), pytest.approx(rb - ra + half, rel=1e-7))
    assert rmse.test == "welch_t_mse_delta"


async def test_compare_errors(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    await _setup(pool)
    svc = CompareService(uow)
    with pytest.raises(NotFoundError):
        await svc.compare("churn", CUR_START, CUR_END, versions=("v1", "v9"))
    with pytest.raises(ValidationError):
        await svc.compare("churn", CUR_START, CUR_END, versions=("v1", "v1"))
    with pytest.raises(ValidationError):
        await svc.compare("churn", CUR_START, CUR_END)
    with pytest.raises(ValidationError):
        await svc.compare("iris", CUR_START, CUR_END, segment="region", values=("eu", "us"))
    empty = await svc.compare("churn", CUR_START, CUR_END, segment="region", values=("eu", "mars"))
    assert empty.n_b == 0 and all(x.p_value is None for x in empty.metrics)
    async with pool.acquire() as conn:
        await models_repo.append_dimension(conn, "price", "region", 4)
    empty = await svc.compare("price", CUR_START, CUR_END, segment="region", values=("eu", "mars"))
    by = {x.metric: x for x in empty.metrics}
    assert all(x.p_value is None and x.b is None for x in empty.metrics) and by["mse"].n_b == 0
    assert by["mse"].a is not None and by["rmse"].a == pytest.approx(by["mse"].a ** 0.5)


async def test_squared_error_moments_beyond_float8_answer_without_p_value(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    """Errors of ~1e90 (within ingest's bounds) make Σe⁴ overflow float8: the raw-row moments are taken again in
    numeric, the comparison answers, and the MSE test without a finite variance reports no p-value."""
    models = await _setup(pool)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE predictions SET predicted_value = predicted_value * 1e88 "
                           "WHERE model_id = $1 AND segments ->> 'region' = 'us'", models["price"].id)
    await refresh_windows(pool)
    by = {x.metric: x for x in (await CompareService(uow).compare("price", CUR_START, CUR_END,
                                                                   versions=("v1", "v2"))).metrics}
    raw = {r: await _raw(pool, models["price"], r) for r in ("eu", "us")}
    err = {r: np.array([x["predicted_value"] - x["label_value"] for x in raw[r]]) for r in raw}
    assert by["mse"].n_a == by["mse"].n_b == 1500
    assert by["mse"].b == pytest.approx(float(np.mean(err["us"] ** 2)), rel=1e-9)  # 1e180: still a float
    assert by["mse"].p_value is None and not by["mse"].significant
    # MAE's test still answers: Welch's t as scipy's statistic; its degrees of freedom taken without squaring
    # the variances (scipy's own formula overflows here and falls back to df = 1), so ≈ n_us − 1
    a, b = np.abs(err["eu"]), np.abs(err["us"])
    t = stats.ttest_ind(b, a, equal_var=False)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = 1 / ((va / (va + vb)) ** 2 / (a.size - 1) + (vb / (va + vb)) ** 2 / (b.size - 1))
    assert by["mae"].difference == pytest.approx(b.mean() - a.mean(), rel=1e-9)
    assert by["mae"].p_value == pytest.approx(2 * stats.t.sf(abs(t.statistic), df), rel=1e-6, abs=1e-300)
