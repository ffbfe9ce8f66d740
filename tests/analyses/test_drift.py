"""Baselines from a stored range and drift from the stored windows, against the same library calls on the
raw rows of the window: exact statistics to 1e-9, binned ones within the bound the result states."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import numpy as np
import pytest
from scipy import stats

from engine.algorithms.drift.binning import quantile_edges
from engine.algorithms.drift.thresholds import sustained_effect_floor
from engine.services.analyses.drift import DriftService
from engine.services.baselines.service import BaselineService
from engine.store import models_repo
from engine.store.unit import UnitOfWork
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows, raw_feature
from tests.conftest import refresh_windows
from tests.ingest.support import register_all

pytestmark = pytest.mark.asyncio


async def _setup(pool: asyncpg.Pool, seed: int = 7) -> dict:
    models = await register_all(pool)
    rng = np.random.default_rng(seed)
    async with pool.acquire() as conn:
        for m in models.values():
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 3000, prefix="ref")
            # the hours before the current window are shifted too: a sustained shift
            await insert_rows(conn, m, v1.id, rng, CUR_START - timedelta(hours=2), CUR_END, 3000, shifted=True,
                              labeled=False, prefix="cur")
    return models


async def test_baseline_from_range_holds_the_reference(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    models = await _setup(pool)
    detail = await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    assert detail.info.active and detail.info.n_rows == 3000 and detail.info.chunking == "1 hour"
    async with pool.acquire() as conn:
        age = np.array([np.nan if v is None else v for v in await raw_feature(conn, models["churn"], "age", REF_START, REF_END)])
    b = next(f for f in detail.features if f.feature == "age")
    present = age[np.isfinite(age)]
    np.testing.assert_array_equal(b.edges, quantile_edges(present, 50))
    idx = np.searchsorted(b.edges, present, side="right")
    assert list(b.reference_counts) == np.bincount(idx, minlength=len(b.edges) + 1).tolist()
    np.testing.assert_allclose(b.reference_sums, np.bincount(idx, weights=present, minlength=len(b.edges) + 1), rtol=1e-12)
    assert b.reference_missing == int(np.isnan(age).sum())
    assert b.reference_min == present.min() and b.reference_max == present.max()
    assert detail.performance["n"] == 3000 and 0 <= detail.performance["metrics"]["accuracy"] <= 1
    assert detail.predictions["n"] == 3000 and sum(detail.predictions["score_counts"]) == 3000
    assert detail.chunks == 3
    listed = await BaselineService(uow).list("churn")
    assert [x.name for x in listed] == ["ref"]


@pytest.mark.parametrize("refreshed", [False, True])
async def test_drift_from_windows_equals_raw_rows(pool: asyncpg.Pool, uow: UnitOfWork, refreshed: bool) -> None:
    models = await _setup(pool)
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    if refreshed:
        await refresh_windows(pool)
    svc = DriftService(uow)
    methods = ("ks", "wasserstein", "mean_shift", "psi", "auto_numeric", "chi_square", "new_categories")
    report = await svc.drift("churn", CUR_START, CUR_END, methods=methods, rule="classic", fdr=False)
    by = {(r.feature, r.method): r for r in report.features}
    async with pool.acquire() as conn:
        ref_age = np.array([v for v in await raw_feature(conn, models["churn"], "age", REF_START, REF_END) if v is not None])
        cur_age = np.array([v for v in await raw_feature(conn, models["churn"], "age", CUR_START, CUR_END) if v is not None])
    ks = stats.ks_2samp(ref_age, cur_age)
    r = by[("age", "ks")]
    assert r.n_current == cur_age.size and r.n_reference == ref_age.size
    assert 0 <= ks.statistic - r.statistic <= r.bound + 1e-12  # the binned KS is a lower bound within its bound
    w_exact = stats.wasserstein_distance(ref_age, cur_age)
    r = by[("age", "wasserstein")]
    assert abs(r.statistic - w_exact) <= r.bound + 1e-9
    r = by[("age", "mean_shift")]
    assert r.statistic == pytest.approx(abs(cur_age.mean() - ref_age.mean()) / ref_age.std(), abs=1e-9)
    assert by[("age", "auto_numeric")].drift and by[("age", "ks")].drift
    assert not by[("tenure", "auto_numeric")].drift
    assert by[("channel", "new_categories")].drift and by[("channel", "new_categories")].statistic > 0.5
    assert by[("channel", "chi_square")].drift
    # the same as the library on the raw rows, binned on the baseline's bins (PSI on the merged groups)
    exact = await svc.drift("churn", CUR_START, CUR_END, methods=("ks", "cramer_von_mises"), exact=True,
                            fdr=False, features=("age", "income"))
    r = next(x for x in exact.features if x.feature == "age" and x.method == "ks")
    assert r.statistic == pytest.approx(ks.statistic, abs=1e-9) and r.p_value == pytest.approx(ks.pvalue, abs=1e-9)
    assert report.dataset_drift is False or report.n_drifted >= 1


async def test_bound_holds_on_seeded_random_data(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    models = await _setup(pool, seed=11)
    await BaselineService(uow).create_from_range("price", "ref", REF_START, REF_END)
    await refresh_windows(pool)
    svc = DriftService(uow)
    rng = np.random.default_rng(5)
    async with pool.acquire() as conn:
        refs = {f: np.array([v for v in await raw_feature(conn, models["price"], f, REF_START, REF_END) if v is not None])
                for f in ("rooms", "area")}
        for _ in range(6):
            a = CUR_START - timedelta(hours=2) + timedelta(minutes=int(rng.integers(0, 120)))
            b = a + timedelta(minutes=int(rng.integers(5, 60)))
            rep = await svc.drift("price", a, b, methods=("wasserstein", "ks"), features=("rooms", "area"),
                                  fdr=False, persist=False)
            for r in rep.features:
                cur = np.array([v for v in await raw_feature(conn, models["price"], r.feature, a, b) if v is not None])
                if r.statistic is None:
                    assert cur.size == 0
                    continue
                exact = (stats.wasserstein_distance(refs[r.feature], cur) if r.method == "wasserstein"
                         else stats.ks_2samp(refs[r.feature], cur).statistic)
                assert abs(r.statistic - exact) <= r.bound + 1e-9, (r.feature, r.method, a, b)


async def test_results_are_persisted_and_replaced(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    await _setup(pool)
    await BaselineService(uow).create_from_range("iris", "ref", REF_START, REF_END)
    svc = DriftService(uow)
    for _ in range(2):
        report = await svc.drift("iris", CUR_START, CUR_END)
    async with pool.acquire() as conn:
        n = await conn.fetchval("SELECT count(*) FROM analysis_results WHERE analysis = 'drift'")
        latest = await conn.fetch("SELECT feature, status FROM drift_latest WHERE model = 'iris'")
    assert n == len(report.features) + sum(r.p_value is not None for r in report.features) + 1
    assert {r["feature"] for r in latest} == {f.feature for f in report.features}


async def test_sliding_window_calibrated_and_sql_function(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    await _setup(pool)
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    await refresh_windows(pool)
    svc = DriftService(uow)
    sliding = await svc.drift("churn", CUR_START, CUR_END, sliding=timedelta(hours=1), rule="classic", persist=False)
    assert sliding.reference == "sliding"
    # the hour before is shifted the same way: no drift against it
    assert not next(r for r in sliding.features if r.feature == "age").drift
    cal = await svc.drift("churn", CUR_START, CUR_END, methods=("psi",), threshold_mode="calibrated", persist=False)
    age = next(r for r in cal.features if r.feature == "age")
    assert age.rule == "calibrated" and age.threshold is not None and age.drift
    async with pool.acquire() as conn:
        rows = {r["feature"]: r for r in await conn.fetch("SELECT * FROM dl_feature_drift('churn', $1, $2)", CUR_START, CUR_END)}
    fine = await svc.drift("churn", CUR_START, CUR_END, methods=("psi_categorical",), persist=False, features=("plan",))
    assert rows["plan"]["psi"] == pytest.approx(fine.features[0].statistic, abs=1e-9)


async def test_default_rule_uses_the_scaled_effect_floor(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    """`sustained` (default) judges the window pooled with the 3 before it at p < 0.005 against
    `sustained_effect_floor(n_ref, n_pooled, n_window)`; `classic` the window alone at p < 0.05 and 0.1."""
    models = await _setup(pool)
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    svc = DriftService(uow)
    sustained = await svc.drift("churn", CUR_START, CUR_END, fdr=False, persist=False)
    classic = await svc.drift("churn", CUR_START, CUR_END, fdr=False, persist=False, rule="classic")
    span = CUR_END - CUR_START
    async with pool.acquire() as conn:
        ref = [v for v in await raw_feature(conn, models["churn"], "age", REF_START, REF_END) if v is not None]
        pooled = [v for v in await raw_feature(conn, models["churn"], "age", CUR_END - 4 * span, CUR_END) if v is not None]
        window = [v for v in await raw_feature(conn, models["churn"], "age", CUR_START, CUR_END) if v is not None]
    s = next(r for r in sustained.features if r.feature == "age")
    c = next(r for r in classic.features if r.feature == "age")
    assert (s.n_reference, s.details["judged_n"], s.n_current) == (len(ref), len(pooled), len(window))
    assert s.threshold == pytest.approx(sustained_effect_floor(len(ref), len(pooled), len(window)), rel=1e-12)
    assert s.threshold > 0.05 and s.details["alpha"] == 0.005 and s.rule == "sustained"
    assert c.threshold == 0.1 and c.details["alpha"] == 0.05 and c.rule == "classic"
    assert s.drift == (s.p_value < 0.005 and s.statistic > s.threshold)  # type: ignore[operator]
    assert s.drift and c.drift  # the shift of the demo data is large
