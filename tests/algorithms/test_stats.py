"""Statistical tests against scipy.stats / statsmodels / pandas computed on the same inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from engine.algorithms.stats import STAT_TESTS
from engine.algorithms.stats.ab import bootstrap_score_diff, two_proportion_z
from engine.algorithms.stats.correlation import kendall, linear_regression, pearson, spearman
from engine.algorithms.stats.descriptive import describe
from engine.algorithms.stats.hypothesis import anova_oneway, chi2_independence, mann_whitney, welch_t

TOL = 1e-9


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


def test_describe_matches_pandas(rng: np.random.Generator) -> None:
    x = rng.gamma(2.0, 3.0, 500)
    d = describe(x)
    s = pd.Series(x)
    q = s.quantile([0.25, 0.5, 0.75])
    want = [len(s), s.mean(), s.std(), s.min(), q[0.25], q[0.5], q[0.75], s.max(), s.skew(), s.kurt()]
    got = [d.n, d.mean, d.std, d.min, d.q1, d.median, d.q3, d.max, d.skew, d.kurtosis]
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


def test_describe_degenerate() -> None:
    one = describe([3.0])
    assert one.n == 1 and np.isnan(one.std) and one.to_dict()["std"] is None
    flat = describe([2.0] * 10)
    assert flat.std == 0.0 and np.isnan(flat.skew)


def test_welch_matches_scipy_and_statsmodels(rng: np.random.Generator) -> None:
    a, b = rng.normal(0, 1, 80), rng.normal(0.4, 2, 60)
    got = welch_t(a, b)
    want = stats.ttest_ind(a, b, equal_var=False)
    assert got.statistic == pytest.approx(want.statistic, abs=TOL)
    assert got.p_value == pytest.approx(want.pvalue, abs=TOL)
    cm = sm.stats.CompareMeans(sm.stats.DescrStatsW(a), sm.stats.DescrStatsW(b))
    low, high = cm.tconfint_diff(alpha=0.05, usevar="unequal")
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=1e-9)
    assert got.estimate == pytest.approx(a.mean() - b.mean(), abs=TOL)


def test_anova_matches_scipy(rng: np.random.Generator) -> None:
    groups = [rng.normal(m, 1, 30 + 5 * i) for i, m in enumerate((0.0, 0.2, 0.5))]
    got, want = anova_oneway(groups), stats.f_oneway(*groups)
    assert (got.statistic, got.p_value) == pytest.approx((want.statistic, want.pvalue), abs=TOL)
    assert got.details["df_within"] == sum(len(g) for g in groups) - 3


def test_mann_whitney_matches_scipy(rng: np.random.Generator) -> None:
    a, b = rng.exponential(1.0, 70), rng.exponential(1.3, 50)
    got, want = mann_whitney(a, b), stats.mannwhitneyu(a, b, alternative="two-sided")
    assert (got.statistic, got.p_value) == pytest.approx((want.statistic, want.pvalue), abs=TOL)
    labels = np.r_[np.ones(70), np.zeros(50)]
    assert got.estimate == pytest.approx(roc_auc_score(labels, np.r_[a, b]), abs=TOL)


@pytest.mark.parametrize("shape", [(2, 2), (3, 4)])
def test_chi2_matches_scipy(rng: np.random.Generator, shape: tuple[int, int]) -> None:
    table = rng.integers(5, 60, shape)
    got, want = chi2_independence(table), stats.chi2_contingency(table)
    assert (got.statistic, got.p_value, got.df) == pytest.approx(
        (want.statistic, want.pvalue, want.dof), abs=TOL
    )
    v = stats.contingency.association(table, method="cramer", correction=shape == (2, 2))
    assert got.estimate == pytest.approx(v, abs=TOL)


def test_correlations_match_scipy(rng: np.random.Generator) -> None:
    x = rng.normal(size=200)
    y = 0.5 * x + rng.normal(size=200)
    for fn, ref in ((pearson, stats.pearsonr), (spearman, stats.spearmanr), (kendall, stats.kendalltau)):
        got, want = fn(x, y), ref(x, y)
        assert (got.statistic, got.p_value) == pytest.approx((want.statistic, want.pvalue), abs=TOL)
    ci = stats.pearsonr(x, y).confidence_interval(0.95)
    got = pearson(x, y)
    assert (got.ci_low, got.ci_high) == pytest.approx((ci.low, ci.high), abs=TOL)


def test_linear_regression_matches_statsmodels(rng: np.random.Generator) -> None:
    x = rng.uniform(0, 10, 100)
    y = 1.5 + 0.3 * x + rng.normal(0, 1, 100)
    got = linear_regression(x, y)
    ols = sm.OLS(y, sm.add_constant(x)).fit()
    low, high = ols.conf_int(0.05)[1]
    assert got.estimate == pytest.approx(ols.params[1], abs=TOL)
    assert got.details["intercept"] == pytest.approx(ols.params[0], abs=TOL)
    assert got.details["r2"] == pytest.approx(ols.rsquared, abs=TOL)
    assert got.p_value == pytest.approx(ols.pvalues[1], abs=TOL)
    assert got.details["stderr"] == pytest.approx(ols.bse[1], abs=TOL)
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=TOL)
    assert got.statistic == pytest.approx(ols.tvalues[1], abs=1e-7)


def test_two_proportion_matches_statsmodels() -> None:
    got = two_proportion_z(430, 500, 405, 500)
    z, p = proportions_ztest([430, 405], [500, 500])
    low, high = confint_proportions_2indep(430, 500, 405, 500, method="wald", compare="diff")
    assert (got.statistic, got.p_value) == pytest.approx((z, p), abs=TOL)
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=TOL)
    assert two_proportion_z(0, 10, 0, 20).p_value == 1.0


def test_bootstrap_auc_diff_is_seeded_and_covers_the_difference(rng: np.random.Generator) -> None:
    n = 600
    y = rng.integers(0, 2, n)
    strong = y + rng.normal(0, 0.8, n)
    weak = y + rng.normal(0, 1.6, n)
    res = bootstrap_score_diff(y, strong, y, weak, n_resamples=400, seed=3, paired=True)
    assert res == bootstrap_score_diff(y, strong, y, weak, n_resamples=400, seed=3, paired=True)
    true_diff = roc_auc_score(y, strong) - roc_auc_score(y, weak)
    assert res.estimate == pytest.approx(true_diff, abs=TOL)
    assert res.ci_low < true_diff < res.ci_high and res.ci_low > 0 and res.p_value < 0.01
    # percentile interval agrees with scipy's paired bootstrap to Monte-Carlo precision
    ref = stats.bootstrap(
        (y, strong, weak),
        lambda a, b, c: roc_auc_score(a, b) - roc_auc_score(a, c),
        paired=True,
        vectorized=False,
        n_resamples=400,
        method="percentile",
        rng=np.random.default_rng(3),
    ).confidence_interval
    assert res.ci_low == pytest.approx(ref.low, abs=0.02) and res.ci_high == pytest.approx(ref.high, abs=0.02)
    same = bootstrap_score_diff(y, strong, y, strong, n_resamples=100, paired=True)
    assert same.estimate == 0.0 and same.p_value == 1.0


def test_registry_lists_known_tests() -> None:
    assert set(STAT_TESTS.names()) == {
        "describe",
        "welch_t",
        "anova_oneway",
        "mann_whitney",
        "chi2_independence",
        "pearson",
        "spearman",
        "kendall",
        "linear_regression",
        "two_proportion_z",
        "bootstrap_score_diff",
    }
