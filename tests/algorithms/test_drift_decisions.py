"""Automatic method choice at large n, Benjamini–Hochberg, thresholds, dataset drift."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from engine.algorithms.drift.binning import CategoryCounts, bin_counts, quantile_edges
from engine.algorithms.drift.dataset import dataset_drift
from engine.algorithms.drift.method import DriftResult, detect
from engine.algorithms.drift.multiple_testing import apply_fdr, benjamini_hochberg
from engine.algorithms.drift.thresholds import CalibratedThreshold, FixedThreshold

N = 1_000_000


@pytest.fixture(scope="module")
def million() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    ref = rng.normal(0.0, 1.0, N)
    tiny = rng.normal(0.02, 1.0, N)  # 0.02 σ: significant at this n, irrelevant in practice
    real = rng.normal(0.3, 1.0, N)
    same = rng.normal(0.0, 1.0, N)
    return ref, tiny, real, same


def test_auto_numeric_ignores_tiny_shift_at_one_million_rows(million: tuple[np.ndarray, ...]) -> None:
    ref, tiny, real, same = million
    # The complaint is real: a bare KS test flags the tiny shift.
    assert detect("ks", ref, tiny).drift_detected
    tiny_result = detect("auto_numeric", ref, tiny)
    assert tiny_result.p_value is not None and tiny_result.p_value < 0.05
    assert tiny_result.statistic < 0.1
    assert not tiny_result.drift_detected
    assert detect("auto_numeric", ref, real).drift_detected
    assert not detect("auto_numeric", ref, same).drift_detected


def test_auto_numeric_from_counts_decides_the_same(million: tuple[np.ndarray, ...]) -> None:
    ref, tiny, real, _ = million
    edges = quantile_edges(ref)
    ref_b = bin_counts(ref, edges, with_sums=True)
    for cur, drift in ((tiny, False), (real, True)):
        result = detect("auto_numeric", ref_b, bin_counts(cur, edges, with_sums=True))
        assert result.drift_detected is drift


def test_auto_categorical_ignores_tiny_shift_at_one_million_rows() -> None:
    ref = CategoryCounts({"no": 500_000, "yes": 500_000})
    tiny = CategoryCounts({"no": 495_000, "yes": 505_000})
    real = CategoryCounts({"no": 300_000, "yes": 700_000})
    assert detect("z_test", ref, tiny).drift_detected
    tiny_result = detect("auto_categorical", ref, tiny)
    assert tiny_result.details["test_method"] == "z_test"
    assert not tiny_result.drift_detected
    assert detect("auto_categorical", ref, real).drift_detected
    many = detect("auto_categorical", CategoryCounts({"a": 10, "b": 10, "c": 10}), CategoryCounts({"a": 30}))
    assert many.details["test_method"] == "chi_square"
    assert many.drift_detected


def test_auto_small_sample_noise_is_not_drift() -> None:
    # 60 rows over 30 categories: the JS distance of pure noise is large, the chi-square test says no.
    rng = np.random.default_rng(5)
    cats = np.array([f"c{i}" for i in range(30)])
    ref, cur = rng.choice(cats, 60), rng.choice(cats, 60)
    result = detect("auto_categorical", ref, cur)
    assert result.statistic > 0.1
    assert not result.drift_detected


def test_benjamini_hochberg_matches_statsmodels() -> None:
    rng = np.random.default_rng(6)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.002, size=10)])
    rejected, expected, _, _ = multipletests(p, alpha=0.05, method="fdr_bh")
    np.testing.assert_allclose(benjamini_hochberg(p), expected, atol=1e-12)
    results = {f"f{i}": detect("ks", [0.0, 1.0], [0.0, 1.0]) for i in range(p.size)}
    results = {k: _with_p(r, float(pi)) for (k, r), pi in zip(results.items(), p, strict=True)}
    decided = apply_fdr(results)
    assert [decided[f"f{i}"].drift_detected for i in range(p.size)] == rejected.tolist()
    assert benjamini_hochberg([]).size == 0
    with pytest.raises(ValueError, match="within"):
        benjamini_hochberg([0.5, 1.5])


def _with_p(result: DriftResult, p: float) -> DriftResult:
    return dataclasses.replace(result, p_value=p, drift_detected=p < 0.05)


def test_calibrated_threshold_from_reference_windows() -> None:
    rng = np.random.default_rng(7)
    ref = rng.normal(size=50_000)
    edges = quantile_edges(ref)
    ref_b = bin_counts(ref, edges)
    windows = [rng.normal(size=2000) for _ in range(20)]
    history = [detect("psi", ref_b, bin_counts(w, edges)).statistic for w in windows]
    strategy = CalibratedThreshold.from_reference(history, k=3.0)
    assert strategy.upper == pytest.approx(np.mean(history) + 3 * np.std(history, ddof=1), rel=1e-12)
    assert not detect("psi", ref_b, rng.normal(size=2000), strategy).drift_detected
    drifted = detect("psi", ref_b, rng.normal(0.3, 1.0, 2000), strategy)
    assert drifted.drift_detected and drifted.threshold == strategy.upper
    with pytest.raises(ValueError, match="at least two"):
        CalibratedThreshold.from_reference([0.1])


def test_fixed_threshold_overrides_the_default() -> None:
    ref, cur = np.arange(100.0), np.arange(100.0) + 5
    assert detect("wasserstein", ref, cur).threshold is None
    assert detect("wasserstein", ref, cur, 4.0).drift_detected
    assert not detect("wasserstein", ref, cur, FixedThreshold(6.0)).drift_detected
    with pytest.raises(ValueError, match="non-negative"):
        FixedThreshold(-1.0)


def test_dataset_drift_flags_the_drifted_features_and_serialises() -> None:
    rng = np.random.default_rng(8)
    ref = {f"x{i}": rng.normal(size=5000) for i in range(6)} | {"c": rng.choice(["a", "b", "c"], 5000)}
    cur = {f"x{i}": rng.normal(0.5 if i < 2 else 0.0, 1.0, 5000) for i in range(6)}
    cur["c"] = rng.choice(["a", "b", "c"], 5000, p=[0.6, 0.3, 0.1])
    types = {f"x{i}": "numeric" for i in range(6)} | {"c": "categorical"}
    result = dataset_drift(ref, cur, types)  # type: ignore[arg-type]
    assert {k for k, r in result.features.items() if r.drift_detected} == {"x0", "x1", "c"}
    assert result.n_drifted == 3 and not result.dataset_drift
    assert all("p_value_adjusted" in r.details for r in result.features.values())
    json.dumps(result.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="missing from reference"):
        dataset_drift(ref, {}, types)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not apply"):
        dataset_drift(ref, cur, types, methods={"c": "ks"})  # type: ignore[arg-type]


def test_auto_numeric_raw_equals_its_two_parts() -> None:
    rng = np.random.default_rng(9)
    ref, cur = rng.normal(size=20_000), rng.normal(0.1, 1.1, 15_000)
    auto = detect("auto_numeric", ref, cur)
    ks, w = detect("ks", ref, cur), detect("wasserstein_normed", ref, cur)
    assert auto.p_value == pytest.approx(ks.p_value, abs=1e-12)
    assert auto.details["test_statistic"] == pytest.approx(ks.statistic, abs=1e-12)
    assert auto.statistic == pytest.approx(w.statistic, abs=1e-12)
