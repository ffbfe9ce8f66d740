"""The sustained rule's effect floor (`thresholds.sustained_effect_floor`): its values, the classic-equivalence
it is built on, and the premise behind it — with no drift, the normed Wasserstein distance over
sqrt(1/n_ref + 1/n) has one distribution whatever the sample sizes (scipy on raw samples)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.algorithms.drift.thresholds import sustained_effect_floor


def se(n_ref: int, n: int) -> float:
    return math.sqrt(1 / n_ref + 1 / n)


@pytest.mark.parametrize("n_ref", [500, 5_000, 20_000, 200_000])
@pytest.mark.parametrize("n", [50, 200, 1_000, 5_000, 20_000, 100_000])
@pytest.mark.parametrize("sustain", [1, 2, 4, 12])
def test_floor_is_the_classic_multiple_of_the_standard_error_up_to_the_cap(n_ref: int, n: int, sustain: int) -> None:
    floor = sustained_effect_floor(n_ref, sustain * n, n)
    z_classic = 0.1 / se(n_ref, n)  # the classic floor in standard errors of the window alone
    z = floor / se(n_ref, sustain * n)
    assert floor >= 0.05
    assert z >= min(z_classic, 5.5) - 1e-9  # never fewer standard errors than the classic rule, up to the cap
    assert floor <= max(0.05, 0.1) + 1e-12  # never above the classic floor itself
    if sustain == 1:
        assert floor == pytest.approx(max(0.05, min(0.1, 5.5 * se(n_ref, n))))


def test_floor_values() -> None:
    assert sustained_effect_floor(20_000, 4_000, 1_000) == pytest.approx(0.1 * se(20_000, 4_000) / se(20_000, 1_000))
    assert sustained_effect_floor(20_000, 20_000, 5_000) == pytest.approx(5.5 * 0.01)
    assert sustained_effect_floor(20_000, 80_000, 20_000) == 0.05
    assert sustained_effect_floor(10**9, 4 * 10**9, 10**9) == 0.05  # reference noise negligible: 0.1 · 1/2
    assert sustained_effect_floor(20_000, 20_000, 5_000, z_cap=6.0) == pytest.approx(0.06)
    with pytest.raises(ValueError):
        sustained_effect_floor(0, 10, 10)


def test_null_wasserstein_over_its_standard_error_does_not_depend_on_the_sizes() -> None:
    rng = np.random.default_rng(20261128)
    quantiles = {}
    for n_ref, n in ((2_000, 500), (2_000, 8_000), (20_000, 2_000)):
        z = []
        for _ in range(300):
            ref, cur = rng.normal(0, 1, n_ref), rng.normal(0, 1, n)
            z.append(stats.wasserstein_distance(ref, cur) / ref.std() / se(n_ref, n))
        quantiles[(n_ref, n)] = np.quantile(z, [0.5, 0.9])
    base = quantiles[(2_000, 500)]
    for q in quantiles.values():
        np.testing.assert_allclose(q, base, rtol=0.12)
    assert all(q[1] < 2.5 for q in quantiles.values())  # far below the 5.5 standard errors of the cap
