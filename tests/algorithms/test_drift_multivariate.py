"""Multivariate drift: domain classifier and PCA reconstruction error."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.algorithms.drift.domain_classifier import (
    DomainClassifierDrift,
    DomainClassifierSettings,
    cross_validated_auc,
)
from engine.algorithms.drift.pca_reconstruction import PCAReconstructionDrift

COV = np.array([[1.0, 0.8, 0.0], [0.8, 1.0, 0.0], [0.0, 0.0, 1.0]])
FLIPPED = np.array([[1.0, -0.8, 0.0], [-0.8, 1.0, 0.0], [0.0, 0.0, 1.0]])


def draw(seed: int, n: int, cov: np.ndarray = COV, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal([shift, 0.0, 0.0], cov, size=n)


@pytest.fixture(scope="module")
def classifier() -> DomainClassifierDrift:
    return DomainClassifierDrift.fit(draw(1, 4000), DomainClassifierSettings(max_rows_per_side=2000), seed=3)


def test_domain_classifier_threshold_comes_from_reference_splits(classifier: DomainClassifierDrift) -> None:
    null = np.array(classifier.null_aucs)
    assert np.all(np.abs(null - 0.5) < 0.05)
    assert classifier.threshold == pytest.approx(max(0.55, null.mean() + 3 * null.std(ddof=1)))


def test_domain_classifier_detects_shift_and_correlation_change(classifier: DomainClassifierDrift) -> None:
    assert not classifier.compute(draw(2, 3000)).drift_detected
    shifted = classifier.compute(draw(4, 3000, shift=0.8))
    assert shifted.drift_detected and shifted.statistic > 0.6
    assert classifier.compute(draw(5, 3000, FLIPPED)).drift_detected


def test_domain_classifier_auc_is_sklearn_roc_auc_of_separable_data() -> None:
    a, b = np.zeros((200, 2)), np.ones((200, 2))
    settings = DomainClassifierSettings()
    assert cross_validated_auc(a, b, settings, np.random.default_rng(0)) == pytest.approx(1.0)
    assert roc_auc_score([0, 1], [0.0, 1.0]) == 1.0


def test_pca_reconstruction_detects_correlation_change_not_noise() -> None:
    detector = PCAReconstructionDrift.fit(draw(6, 10_000))
    assert detector.pca is not None and detector.pca.n_components_ < 3
    same = detector.compute(draw(7, 1000))
    assert not same.drift_detected
    flipped = detector.compute(draw(8, 1000, FLIPPED))
    assert flipped.drift_detected and flipped.statistic > same.statistic
    # Every marginal is unchanged: a univariate test sees nothing there.
    assert abs(draw(8, 1000, FLIPPED)[:, 0].std() - 1.0) < 0.1


def test_pca_reconstruction_band_is_mean_pm_3_sigma_of_chunks() -> None:
    ref = draw(9, 5000)
    detector = PCAReconstructionDrift.fit(ref, n_chunks=10)
    z = detector.scaler.transform(ref)
    assert detector.pca is not None
    errors = np.linalg.norm(z - detector.pca.inverse_transform(detector.pca.transform(z)), axis=1)
    chunks = np.array([c.mean() for c in np.array_split(errors, 10)])
    assert detector.upper == pytest.approx(chunks.mean() + 3 * chunks.std(ddof=1), abs=1e-8)
    assert detector.lower == pytest.approx(chunks.mean() - 3 * chunks.std(ddof=1), abs=1e-8)


def test_pca_reconstruction_imputes_missing_with_reference_medians() -> None:
    ref = draw(10, 2000)
    detector = PCAReconstructionDrift.fit(ref)
    cur = draw(11, 500)
    cur[::10, 1] = np.nan
    result = detector.compute(cur)
    assert np.isfinite(result.statistic)
    with pytest.raises(ValueError, match="columns"):
        detector.compute(cur[:, :2])
