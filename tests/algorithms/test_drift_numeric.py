"""Numeric drift methods against scipy oracles, a hand-worked PSI, and binned-vs-raw bounds."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from engine.algorithms.drift.binning import EPSILON, bin_counts, quantile_edges
from engine.algorithms.drift.divergences import psi
from engine.algorithms.drift.method import BinnedInputNotSupported, detect

TOL = 1e-9


def samples(seed: int, n: int = 3000, m: int = 2500, shift: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, n), rng.normal(shift, 1.3, m)


def oracle_proportions(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binning done independently: np.histogram on reference quantile edges with open outer bins."""
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    p = np.histogram(ref, bins)[0] / ref.size
    q = np.histogram(cur, bins)[0] / cur.size
    return p, q


def smooth(p: np.ndarray) -> np.ndarray:
    p = np.where(p == 0, EPSILON, p)
    return p / p.sum()


@pytest.mark.parametrize(("n", "m"), [(40, 55), (3000, 2500), (20_000, 15_000)])
def test_ks_matches_scipy(n: int, m: int) -> None:
    ref, cur = samples(1, n, m, shift=0.1)
    expected = stats.ks_2samp(ref, cur)
    result = detect("ks", ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, abs=TOL)
    assert result.drift_detected == (expected.pvalue < 0.05)


def test_ks_with_ties_matches_scipy() -> None:
    ref, cur = samples(2, 500, 800)
    ref, cur = np.round(ref, 1), np.round(cur, 1)
    expected = stats.ks_2samp(ref, cur)
    result = detect("ks", ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, abs=TOL)


def test_anderson_darling_matches_scipy() -> None:
    ref, cur = samples(3, shift=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = stats.anderson_ksamp([ref, cur], variant="midrank")
    result = detect("anderson_darling", ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, abs=TOL)


def test_cramer_von_mises_matches_scipy() -> None:
    ref, cur = samples(4, shift=0.05)
    expected = stats.cramervonmises_2samp(ref, cur)
    result = detect("cramer_von_mises", ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert result.p_value == pytest.approx(expected.pvalue, abs=TOL)


def test_energy_distance_matches_scipy_raw_and_normalised() -> None:
    ref, cur = samples(5)
    expected = stats.energy_distance(ref, cur)
    result = detect("energy_distance", ref, cur)
    assert result.details["energy_distance_raw"] == pytest.approx(expected, abs=TOL)
    scale = np.std(ref)
    assert result.statistic == pytest.approx(stats.energy_distance(ref / scale, cur / scale), abs=TOL)


def test_wasserstein_matches_scipy_raw_and_normalised() -> None:
    ref, cur = samples(6, 5000, 30_000)
    expected = stats.wasserstein_distance(ref, cur)
    assert detect("wasserstein", ref, cur).statistic == pytest.approx(expected, abs=TOL)
    normed = detect("wasserstein_normed", ref, cur)
    assert normed.statistic == pytest.approx(expected / np.std(ref), abs=TOL)
    assert normed.drift_detected


def test_binned_divergences_match_scipy_on_independent_binning() -> None:
    ref, cur = samples(7)
    p, q = oracle_proportions(ref, cur)
    ps, qs = smooth(p), smooth(q)
    assert detect("jensen_shannon", ref, cur).statistic == pytest.approx(jensenshannon(p, q, base=2), abs=TOL)
    assert detect("kl_divergence", ref, cur).statistic == pytest.approx(rel_entr(ps, qs).sum(), abs=TOL)
    # PSI is the symmetrised KL divergence.
    expected_psi = rel_entr(ps, qs).sum() + rel_entr(qs, ps).sum()
    assert detect("psi", ref, cur).statistic == pytest.approx(expected_psi, abs=TOL)
    hellinger = np.linalg.norm(np.sqrt(p) - np.sqrt(q)) / np.sqrt(2)
    assert detect("hellinger", ref, cur).statistic == pytest.approx(hellinger, abs=TOL)


def test_psi_hand_worked() -> None:
    # Reference 50/50, current 25/75: (0.25-0.5)·ln(0.25/0.5) + (0.75-0.5)·ln(0.75/0.5)
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert psi([50, 50], [25, 75]) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.2746530722, abs=1e-9)
    # An empty reference bin gets EPSILON, then both sides are renormalised.
    p = np.array([1.0, 1e-4]) / 1.0001
    q = np.array([0.5, 0.5])
    assert psi([100, 0], [50, 50]) == pytest.approx(float(np.sum((q - p) * np.log(q / p))), abs=1e-12)


def test_binned_statistics_equal_raw_statistics_where_binning_is_the_definition() -> None:
    ref, cur = samples(8)
    edges = quantile_edges(ref)
    ref_b, cur_b = bin_counts(ref, edges), bin_counts(cur, edges)
    for method in ("psi", "jensen_shannon", "kl_divergence", "hellinger"):
        assert detect(method, ref_b, cur_b).statistic == pytest.approx(
            detect(method, ref, cur).statistic, abs=1e-12
        )
        # Mixed input: reference as counts (as stored), current raw.
        assert detect(method, ref_b, cur).statistic == pytest.approx(
            detect(method, ref, cur).statistic, abs=1e-12
        )


@pytest.mark.parametrize("seed", [9, 10, 11])
def test_binned_ks_is_within_its_stated_bound(seed: int) -> None:
    ref, cur = samples(seed, 4000, 6000, shift=0.2)
    edges = quantile_edges(ref)
    ref_b, cur_b = bin_counts(ref, edges), bin_counts(cur, edges)
    binned = detect("ks", ref_b, cur_b)
    raw = stats.ks_2samp(ref, cur)
    # Bound: within one bin each ECDF rises by at most that bin's mass.
    bound = max(np.max(ref_b.counts / ref_b.total), np.max(cur_b.counts / cur_b.total))
    assert binned.details["approximation_bound"] == pytest.approx(bound, abs=1e-15)
    assert 0.0 <= raw.statistic - binned.statistic <= bound + 1e-12
    assert binned.p_value is not None and binned.p_value >= raw.pvalue - 1e-12  # conservative


@pytest.mark.parametrize("with_sums", [True, False])
def test_binned_wasserstein_is_within_collapse_bound(with_sums: bool) -> None:
    ref, cur = samples(12, 5000, 5000, shift=0.4)
    edges = quantile_edges(ref)
    ref_b, cur_b = bin_counts(ref, edges, with_sums), bin_counts(cur, edges, with_sums)
    binned = detect("wasserstein", ref_b, cur_b).statistic
    raw = stats.wasserstein_distance(ref, cur)

    def collapse_cost(x: np.ndarray, positions: np.ndarray) -> float:
        return stats.wasserstein_distance(x, positions[np.searchsorted(edges, x, side="right")])

    # Triangle inequality: moving each value to its bin's point costs W(x, collapsed x) per side.
    bound = collapse_cost(ref, ref_b.bin_positions()) + collapse_cost(cur, cur_b.bin_positions())
    assert abs(binned - raw) <= bound + 1e-12
    if with_sums:
        normed = detect("wasserstein_normed", ref_b, cur_b)
        assert normed.details["scale"] == pytest.approx(np.std(ref), rel=1e-9)


def test_raw_only_methods_refuse_binned_input_clearly() -> None:
    ref, cur = samples(13, 100, 100)
    edges = quantile_edges(ref)
    for method in ("anderson_darling", "cramer_von_mises", "energy_distance"):
        with pytest.raises(BinnedInputNotSupported, match="raw samples"):
            detect(method, bin_counts(ref, edges), bin_counts(cur, edges))
    assert issubclass(BinnedInputNotSupported, ValueError)


def test_missing_values_are_counted_not_compared() -> None:
    ref, cur = samples(14, 1000, 1000)
    cur_with_nan = np.concatenate([cur, [np.nan] * 10])
    result = detect("ks", ref, cur_with_nan)
    assert result.details["missing_current"] == 10
    assert result.statistic == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=TOL)
