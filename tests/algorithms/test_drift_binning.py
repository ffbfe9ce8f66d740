"""The binning convention: PostgreSQL width_bucket semantics, quantile edges, epsilon, merging."""

from __future__ import annotations

import numpy as np
import pytest

from engine.algorithms.drift.binning import (
    EPSILON,
    BinnedCounts,
    CategoryCounts,
    bin_counts,
    binned_pair,
    count_categories,
    quantile_edges,
    smoothed_proportions,
)

EDGES = np.array([1.0, 2.0, 3.5])
# PostgreSQL: width_bucket(x, ARRAY[1.0, 2.0, 3.5]::float8[]) — 0 below the first bound, a value equal
# to a bound falls in the bucket that bound opens (lower bounds are inclusive), 3 at or above 3.5.
WIDTH_BUCKET_CASES = [
    (-1e300, 0),
    (0.0, 0),
    (0.9999999999, 0),
    (1.0, 1),
    (1.5, 1),
    (np.nextafter(2.0, -np.inf), 1),
    (2.0, 2),
    (3.4999, 2),
    (3.5, 3),
    (3.5000001, 3),
    (1e300, 3),
]


@pytest.mark.parametrize(("value", "bucket"), WIDTH_BUCKET_CASES)
def test_bin_index_is_postgres_width_bucket(value: float, bucket: int) -> None:
    assert int(np.searchsorted(EDGES, value, side="right")) == bucket
    counts = bin_counts([value], EDGES).counts
    assert counts.tolist() == [int(i == bucket) for i in range(EDGES.size + 1)]


def test_bin_counts_whole_vector_and_missing() -> None:
    values = [v for v, _ in WIDTH_BUCKET_CASES] + [np.nan, np.inf, -np.inf]
    binned = bin_counts(values, EDGES, with_sums=True)
    expected = np.bincount([b for _, b in WIDTH_BUCKET_CASES], minlength=4)
    assert binned.counts.tolist() == expected.tolist()
    assert binned.missing == 3
    assert binned.total == len(WIDTH_BUCKET_CASES)
    assert binned.sums is not None
    assert binned.sums[1] == pytest.approx(1.0 + 1.5 + np.nextafter(2.0, -np.inf))


def test_quantile_edges_are_reference_quantiles_deduplicated() -> None:
    x = np.random.default_rng(1).normal(size=10_001)
    edges = quantile_edges(x)
    np.testing.assert_array_equal(edges, np.quantile(x, np.arange(1, 10) / 10))
    assert edges.size == 9
    # Ties: a quarter of the values at 0 collapse several quantiles into one edge.
    tied = np.concatenate([np.zeros(5000), np.arange(1, 5001, dtype=float)])
    tied_edges = quantile_edges(tied)
    assert np.all(np.diff(tied_edges) > 0)
    assert tied_edges.size < 9
    np.testing.assert_array_equal(tied_edges, np.unique(np.quantile(tied, np.arange(1, 10) / 10)))


def test_constant_reference_gives_one_edge_two_bins() -> None:
    edges = quantile_edges(np.full(100, 7.0))
    assert edges.tolist() == [7.0]
    assert bin_counts(np.full(100, 7.0), edges).counts.tolist() == [0, 100]


def test_quantile_edges_reject_empty_and_all_missing() -> None:
    with pytest.raises(ValueError, match="no present"):
        quantile_edges([])
    with pytest.raises(ValueError, match="no present"):
        quantile_edges([np.nan, np.nan])
    with pytest.raises(ValueError, match="n_bins"):
        quantile_edges([1.0, 2.0], n_bins=1)


def test_binned_counts_validate_shape_and_edges() -> None:
    with pytest.raises(ValueError, match="len\\(edges\\) \\+ 1"):
        BinnedCounts(EDGES, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="strictly increasing"):
        BinnedCounts(np.array([1.0, 1.0]), np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="non-negative"):
        BinnedCounts(EDGES, np.array([1, -2, 3, 4]))


def test_binned_counts_merge_equals_binning_the_union() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=500), rng.normal(size=700)
    a[:5] = np.nan
    merged = bin_counts(a, EDGES, with_sums=True) + bin_counts(b, EDGES, with_sums=True)
    whole = bin_counts(np.concatenate([a, b]), EDGES, with_sums=True)
    assert merged.counts.tolist() == whole.counts.tolist()
    assert merged.missing == whole.missing == 5
    assert merged.sums is not None and whole.sums is not None
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-12)
    with pytest.raises(ValueError, match="different bin edges"):
        _ = merged + bin_counts(b, EDGES + 0.1)


def test_binned_std_from_sums_is_exact() -> None:
    x = np.random.default_rng(3).lognormal(size=2000)
    binned = bin_counts(x, quantile_edges(x), with_sums=True)
    assert binned.std() == pytest.approx(float(np.std(x)), rel=1e-9)


def test_binned_pair_uses_the_binned_sides_edges() -> None:
    rng = np.random.default_rng(4)
    ref = bin_counts(rng.normal(size=100), EDGES)
    ref2, cur = binned_pair(ref, rng.normal(size=50))
    assert ref2 is ref
    np.testing.assert_array_equal(cur.edges, EDGES)
    assert cur.total == 50


def test_smoothed_proportions_put_epsilon_in_empty_bins_and_renormalise() -> None:
    p = smoothed_proportions([3, 0, 1])
    expected = np.array([0.75, EPSILON, 0.25]) / (1 + EPSILON)
    np.testing.assert_allclose(p, expected, rtol=1e-15)
    assert p.sum() == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match="empty count table"):
        smoothed_proportions([0, 0])


def test_count_categories_counts_missing_and_merges() -> None:
    counts = count_categories(np.array(["a", "b", None, "a", np.nan], dtype=object))
    assert dict(counts.counts) == {"a": 2, "b": 1}
    assert counts.missing == 2
    merged = counts + CategoryCounts({"b": 2, "c": 1}, missing=1)
    assert dict(merged.counts) == {"a": 2, "b": 3, "c": 1}
    assert merged.missing == 3
    assert dict(count_categories(np.array([1.0, np.nan, 1.0])).counts) == {"1.0": 2}
