"""Property-based invariants of the drift statistics (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.algorithms.drift import divergences
from engine.algorithms.drift.method import DRIFT_METHODS, detect

counts = st.integers(min_value=2, max_value=12).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 10_000), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
        st.lists(st.integers(0, 10_000), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
    )
)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = arrays(np.float64, st.integers(1, 300), elements=finite)


@given(counts)
def test_psi_and_kl_are_non_negative(pair: tuple[list[int], list[int]]) -> None:
    ref, cur = pair
    assert divergences.psi(ref, cur) >= -1e-12
    assert divergences.kl_divergence(ref, cur) >= -1e-12


@given(counts)
def test_jensen_shannon_is_symmetric_and_bounded(pair: tuple[list[int], list[int]]) -> None:
    ref, cur = pair
    js = divergences.jensen_shannon_distance(ref, cur)
    assert 0.0 <= js <= 1.0
    assert abs(js - divergences.jensen_shannon_distance(cur, ref)) <= 1e-12


@given(counts)
def test_total_variation_and_hellinger_are_bounded(pair: tuple[list[int], list[int]]) -> None:
    ref, cur = pair
    assert 0.0 <= divergences.total_variation_distance(ref, cur) <= 1.0
    assert 0.0 <= divergences.hellinger_distance(ref, cur) <= 1.0


@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=12).filter(lambda c: sum(c) > 0))
def test_identical_counts_have_zero_divergence(ref: list[int]) -> None:
    for fn in (
        divergences.psi,
        divergences.kl_divergence,
        divergences.jensen_shannon_distance,
        divergences.hellinger_distance,
        divergences.total_variation_distance,
    ):
        assert abs(fn(ref, ref)) <= 1e-7


@settings(max_examples=40, deadline=None)
@given(samples)
def test_identical_samples_never_drift(x: np.ndarray) -> None:
    for name, spec in DRIFT_METHODS.items():
        if spec.feature_type != "numeric":
            continue
        try:
            result = detect(name, x, x.copy())
        except ValueError:
            continue  # e.g. too few values for Cramér–von Mises
        assert not result.drift_detected, name
        if spec.kind == "distance":
            assert abs(result.statistic) <= 1e-6, name
