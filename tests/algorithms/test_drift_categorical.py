"""Categorical drift methods against scipy / statsmodels oracles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from statsmodels.stats.proportion import proportions_ztest

from engine.algorithms.drift.binning import EPSILON, CategoryCounts, count_categories
from engine.algorithms.drift.method import detect

TOL = 1e-9


def draw(seed: int, n: int, categories: list[str], weights: list[float]) -> np.ndarray:
    w = np.asarray(weights) / np.sum(weights)
    return np.random.default_rng(seed).choice(np.array(categories), n, p=w)


def aligned(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    return (
        np.array([np.sum(ref == k) for k in keys], dtype=float),
        np.array([np.sum(cur == k) for k in keys], dtype=float),
    )


REF = draw(1, 2000, ["a", "b", "c", "d"], [4, 3, 2, 1])
CUR = draw(2, 1500, ["a", "b", "c", "e"], [3, 3, 3, 1])


def test_chi_square_matches_chi2_contingency() -> None:
    r, c = aligned(REF, CUR)
    expected = stats.chi2_contingency(np.vstack([r, c]), correction=False)
    result = detect("chi_square", REF, CUR)
    assert result.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, abs=TOL)
    assert result.details["dof"] == expected.dof


def test_chi_square_from_counts_equals_raw() -> None:
    from_counts = detect("chi_square", count_categories(REF), count_categories(CUR))
    assert from_counts.to_dict() == detect("chi_square", REF, CUR).to_dict()


def test_z_test_matches_statsmodels() -> None:
    ref = draw(3, 5000, ["no", "yes"], [0.7, 0.3])
    cur = draw(4, 4000, ["no", "yes"], [0.67, 0.33])
    r, c = aligned(ref, cur)
    z, p = proportions_ztest([r[0], c[0]], [r.sum(), c.sum()])
    result = detect("z_test", ref, cur)
    assert result.statistic == pytest.approx(z, abs=TOL)
    assert result.p_value == pytest.approx(p, abs=TOL)


def test_z_test_rejects_more_than_two_categories() -> None:
    with pytest.raises(ValueError, match="binary"):
        detect("z_test", REF, CUR)


def test_divergences_match_scipy() -> None:
    r, c = aligned(REF, CUR)
    p, q = r / r.sum(), c / c.sum()
    ps = np.where(p == 0, EPSILON, p) / np.where(p == 0, EPSILON, p).sum()
    qs = np.where(q == 0, EPSILON, q) / np.where(q == 0, EPSILON, q).sum()
    assert detect("jensen_shannon_categorical", REF, CUR).statistic == pytest.approx(
        jensenshannon(p, q, base=2), abs=TOL
    )
    assert detect("psi_categorical", REF, CUR).statistic == pytest.approx(
        rel_entr(ps, qs).sum() + rel_entr(qs, ps).sum(), abs=TOL
    )
    assert detect("total_variation", REF, CUR).statistic == pytest.approx(0.5 * np.abs(p - q).sum(), abs=TOL)


def test_new_and_missing_categories() -> None:
    result = detect("new_categories", REF, CUR)
    assert result.details["new_categories"] == ["e"]
    assert result.details["missing_categories"] == ["d"]
    assert result.details["new_share"] == pytest.approx(np.mean(CUR == "e"), abs=TOL)
    assert result.details["vanished_share"] == pytest.approx(np.mean(REF == "d"), abs=TOL)
    assert result.drift_detected
    same = detect("new_categories", CategoryCounts({"a": 5, "b": 1}), CategoryCounts({"a": 1, "b": 9}))
    assert same.statistic == 0.0 and not same.drift_detected


def test_missing_values_are_reported() -> None:
    cur = np.array(["a", None, "b", np.nan, "a"], dtype=object)
    result = detect("total_variation", np.array(["a", "b"]), cur)
    assert result.details["missing_current"] == 2
    assert result.details["n_current"] == 3
