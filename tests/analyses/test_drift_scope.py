"""Feature drift restricted to one version and / or one segment value (binned from raw rows in SQL, since the
feature windows are not keyed by version or segment), against scipy on the raw rows of exactly those rows."""

from __future__ import annotations

from typing import Any

import asyncpg
import numpy as np
import pytest
from scipy import stats

from engine.errors import NotFoundError
from engine.services.analyses.drift import DriftService
from engine.services.baselines.service import BaselineService
from engine.store import models_repo
from engine.store.unit import UnitOfWork
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows
from tests.conftest import refresh_windows
from tests.ingest.support import register_all

pytestmark = pytest.mark.asyncio


async def _setup(pool: asyncpg.Pool) -> Any:
    models = await register_all(pool)
    rng = np.random.default_rng(21)
    m = models["churn"]
    async with pool.acquire() as conn:
        v1, v2 = await models_repo.list_versions(conn, m.id)
        await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 2000, prefix="ref")
        await insert_rows(conn, m, v1.id, rng, CUR_START, CUR_END, 900, shifted=True, prefix="c1", region="eu")
        await insert_rows(conn, m, v2.id, rng, CUR_START, CUR_END, 700, shifted=False, prefix="c2", region="us")
        await insert_rows(conn, m, v2.id, rng, CUR_START, CUR_END, 300, shifted=True, prefix="c3", region="eu")
    return m, v1.id, v2.id


async def _raw(pool: asyncpg.Pool, m: Any, col: str, start: Any, end: Any, version_id: int | None = None,
               region: str | None = None) -> np.ndarray:
    f = next(f for f in m.features if f.name == col)
    expr = f"{'num' if f.kind == 'numeric' else 'cat'}_features[{f.position}]"
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {expr} AS x FROM predictions WHERE model_id = $1 AND time >= $2 AND time < $3 "
            "AND ($4::integer IS NULL OR version_id = $4) AND ($5::text IS NULL OR segments->>'region' = $5)",
            m.id, start, end, version_id, region)
    return np.array([r["x"] for r in rows if r["x"] is not None], dtype=float if f.kind == "numeric" else object)


@pytest.mark.parametrize("refreshed", [False, True])
async def test_version_and_segment_drift_equal_scipy_on_those_rows(
    pool: asyncpg.Pool, uow: UnitOfWork, refreshed: bool
) -> None:
    m, _, v2 = await _setup(pool)
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    if refreshed:
        await refresh_windows(pool)
    svc = DriftService(uow)
    ref_age = await _raw(pool, m, "age", REF_START, REF_END)
    methods = ("ks", "wasserstein", "mean_shift", "auto_numeric", "chi_square")
    for version, filters, vid, region in (("v2", None, v2, None), (None, {"region": "us"}, None, "us"),
                                          ("v2", {"region": "eu"}, v2, "eu")):
        report = await svc.drift("churn", CUR_START, CUR_END, methods=methods, rule="classic", fdr=False,
                                 version=version, filters=filters, persist=True)
        assert (report.version, report.filters, report.source) == (version, filters or {}, "raw_rows")
        by = {(r.feature, r.method): r for r in report.features}
        cur_age = await _raw(pool, m, "age", CUR_START, CUR_END, vid, region)
        ks = stats.ks_2samp(ref_age, cur_age)
        r = by[("age", "ks")]
        assert (r.n_reference, r.n_current) == (ref_age.size, cur_age.size), (version, filters)
        assert 0 <= ks.statistic - r.statistic <= r.bound + 1e-12
        r = by[("age", "wasserstein")]
        assert abs(r.statistic - stats.wasserstein_distance(ref_age, cur_age)) <= r.bound + 1e-9
        r = by[("age", "mean_shift")]
        assert r.statistic == pytest.approx(abs(cur_age.mean() - ref_age.mean()) / ref_age.std(), abs=1e-9)
        shifted = region != "us"  # the us rows are not shifted; v2 as a whole is 30 % shifted rows
        assert by[("age", "auto_numeric")].drift == shifted, (version, filters, by[("age", "auto_numeric")])
        assert by[("channel", "chi_square")].drift == shifted
        exact = await svc.drift("churn", CUR_START, CUR_END, methods=("ks",), exact=True, fdr=False, persist=False,
                                features=("age",), version=version, filters=filters)
        [e] = exact.features
        assert e.statistic == pytest.approx(ks.statistic, abs=1e-9) and e.p_value == pytest.approx(ks.pvalue, abs=1e-9)
        assert e.n_current - e.details.get("missing_current", 0) == cur_age.size  # n counts missing rows too
    async with pool.acquire() as conn:
        runs = await conn.fetch("SELECT DISTINCT version_id, segment::text AS s FROM analysis_results "
                                "WHERE analysis = 'drift' ORDER BY 1, 2")
    assert {(r["version_id"], r["s"]) for r in runs} == {(0, '{"region": "us"}'), (v2, "{}"), (v2, '{"region": "eu"}')}


async def test_a_scope_of_every_row_equals_the_windows(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    """Every reference-period row is v1 and eu: restricted to either, the raw-row path gives exactly what the
    feature windows give (same counts, same statistics)."""
    await _setup(pool)
    await BaselineService(uow).create_from_range("churn", "ref", REF_START, REF_END)
    await refresh_windows(pool)
    svc = DriftService(uow)
    mid = REF_START + (REF_END - REF_START) / 3
    kw: dict[str, Any] = {"methods": ("ks", "psi", "wasserstein", "mean_shift", "chi_square", "auto_numeric"),
                          "fdr": False, "persist": False, "reference_start": REF_START, "reference_end": mid}
    whole = await svc.drift("churn", mid, REF_END, **kw)
    assert whole.source == "windows"
    for scope in ({"version": "v1"}, {"filters": {"region": "eu"}}):
        scoped = await svc.drift("churn", mid, REF_END, **kw, **scope)
        assert scoped.source == "raw_rows"
        for a, b in zip(whole.features, scoped.features, strict=True):
            assert (a.feature, a.method, a.n_reference, a.n_current) == (b.feature, b.method, b.n_reference, b.n_current)
            assert a.statistic == pytest.approx(b.statistic, abs=1e-9) and a.drift == b.drift, (a, b)
    with pytest.raises(NotFoundError):
        await svc.drift("churn", CUR_START, CUR_END, version="v9")
