"""Multivariate drift of mixed rows (pure): a change of correlation that no marginal shows is seen by the PCA
reconstruction; identical distributions are not flagged; the encoder imputes and encodes as documented."""

from __future__ import annotations

import numpy as np
import pytest

from engine.algorithms.drift.mixed_rows import MultivariateParams, multivariate_drift
from engine.algorithms.drift.tabular import TabularEncoder, auc_interval


def _rows(rng: np.random.Generator, n: int, rho: float) -> tuple[np.ndarray, list[list[str | None]]]:
    cov = np.array([[1.0, rho], [rho, 1.0]])
    num = rng.multivariate_normal([0.0, 0.0], cov, n)
    cat: list[list[str | None]] = [[str(c)] for c in rng.choice(["a", "b"], n)]
    return num, cat


def test_pca_sees_a_correlation_change_the_marginals_do_not_show() -> None:
    rng = np.random.default_rng(1)
    ref = _rows(rng, 3000, 0.9)
    same = _rows(rng, 1000, 0.9)
    flipped = _rows(rng, 1000, -0.9)  # same N(0, 1) marginals
    params = MultivariateParams()
    assert not multivariate_drift("pca", *ref, *same, params).drift
    res = multivariate_drift("pca", *ref, *flipped, params)
    assert res.drift and res.statistic > res.threshold


def test_domain_classifier_on_identical_and_shifted_rows() -> None:
    rng = np.random.default_rng(2)
    ref, same = _rows(rng, 800, 0.0), _rows(rng, 800, 0.0)
    params = MultivariateParams(seed=4, null_splits=3)
    r = multivariate_drift("domain_classifier", *ref, *same, params)
    assert not r.drift and abs(r.statistic - 0.5) < 0.05 and r.interval is not None
    lo, hi = r.interval
    assert lo < 0.5 < hi
    shifted = (same[0] + np.array([1.0, 0.0]), same[1])
    assert multivariate_drift("domain_classifier", *ref, *shifted, params).drift
    with pytest.raises(ValueError, match="unknown multivariate method"):
        multivariate_drift("umap", *ref, *same, params)


def test_encoder_imputes_median_and_mode_and_maps_unseen_to_other() -> None:
    num = np.array([[1.0], [2.0], [np.nan], [10.0]])
    cat: list[list[str | None]] = [["x"], ["y"], ["x"], [None]]
    enc = TabularEncoder.fit(num, cat)
    assert enc.medians.tolist() == [2.0] and enc.modes == ("x",)
    filled = np.array([1.0, 2.0, 2.0, 10.0])
    out = enc.transform(np.array([[np.nan], [4.0]]), [[None], ["zzz"]], "onehot")
    np.testing.assert_allclose(out[:, 0], (np.array([2.0, 4.0]) - filled.mean()) / filled.std())
    assert out[:, 1:].tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]  # levels x (3 with the imputed), y, other
    freq = enc.transform(np.array([[1.0]]), [["y"]], "frequency")
    assert freq[0, 1] == pytest.approx(0.25)
    assert TabularEncoder.missing(num, cat) == ([1], [1])


def test_hanley_mcneil_interval() -> None:
    # A = 0.8, n1 = n2 = 50 (Hanley & McNeil 1982): Q1 = 0.8/1.2, Q2 = 1.28/1.8
    a, q1, q2 = 0.8, 0.8 / 1.2, 2 * 0.64 / 1.8
    se = np.sqrt((a * (1 - a) + 49 * (q1 - a * a) + 49 * (q2 - a * a)) / 2500)
    lo, hi = auc_interval(0.8, 50, 50)
    assert lo == pytest.approx(0.8 - 1.959963984540054 * se) and hi == pytest.approx(0.8 + 1.959963984540054 * se)
