"""Domain-classifier drift: can a model tell current rows from reference rows?

A gradient-boosted classifier (scikit-learn ``HistGradientBoostingClassifier``, which takes NaN
natively) is trained to separate reference rows (label 0) from current rows (label 1); its
cross-validated ROC AUC (out-of-fold predictions, stratified ``n_folds``) is the statistic: 0.5 means
indistinguishable, 1.0 fully separable.

Threshold, calibrated on the reference only: the reference is shuffled and split into two halves
``n_null_splits`` times and the same cross-validated AUC is computed for half vs half — the AUC a
classifier reaches when there is no drift. Drift means ``auc > max(min_auc, mean + k·σ)`` of those
null AUCs; ``min_auc`` (0.55) keeps tiny, practically irrelevant differences from being flagged at
large n, as in `auto`. Each side is subsampled (seeded, without replacement) to at most
``max_rows_per_side`` rows, for the null splits as for the real comparison, so both AUCs have the
same sampling noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from engine.algorithms.drift.binning import FloatArray
from engine.algorithms.drift.method import DriftResult
from engine.algorithms.drift.multivariate import MULTIVARIATE_DRIFT_METHODS, as_matrix


@dataclass(frozen=True, slots=True)
class DomainClassifierSettings:
    max_rows_per_side: int = 5000
    n_folds: int = 3
    n_null_splits: int = 5
    k: float = 3.0
    min_auc: float = 0.55
    max_iter: int = 50


def _subsample(x: FloatArray, n: int, rng: np.random.Generator) -> FloatArray:
    return x if x.shape[0] <= n else x[rng.choice(x.shape[0], n, replace=False)]


def cross_validated_auc(
    a: FloatArray, b: FloatArray, settings: DomainClassifierSettings, rng: np.random.Generator
) -> float:
    """Out-of-fold ROC AUC of a classifier separating rows of ``b`` (1) from rows of ``a`` (0)."""
    a = _subsample(a, settings.max_rows_per_side, rng)
    b = _subsample(b, settings.max_rows_per_side, rng)
    x = np.vstack([a, b])
    y = np.concatenate([np.zeros(a.shape[0]), np.ones(b.shape[0])])
    seed = int(rng.integers(2**31 - 1))
    model = HistGradientBoostingClassifier(max_iter=settings.max_iter, random_state=seed)
    folds = StratifiedKFold(settings.n_folds, shuffle=True, random_state=seed)
    # The samples are small (capped): one OpenMP thread is as fast, and it avoids the many-fold
    # slowdown that OpenMP spin-waiting causes when the worker shares busy cores.
    with threadpool_limits(limits=1, user_api="openmp"):
        scores = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, scores))


@dataclass(frozen=True, slots=True)
class DomainClassifierDrift:
    reference: FloatArray
    threshold: float
    null_aucs: tuple[float, ...]
    settings: DomainClassifierSettings = field(default_factory=DomainClassifierSettings)
    seed: int = 0

    @classmethod
    def fit(
        cls, reference: ArrayLike, settings: DomainClassifierSettings | None = None, seed: int = 0
    ) -> DomainClassifierDrift:
        settings = settings or DomainClassifierSettings()
        if settings.n_folds < 2 or settings.n_null_splits < 2:
            raise ValueError("n_folds and n_null_splits must be at least 2")
        ref = as_matrix(reference, "reference", min_rows=2 * settings.n_folds)
        rng = np.random.default_rng(seed)
        null = []
        for _ in range(settings.n_null_splits):
            perm = rng.permutation(ref.shape[0])
            half = ref.shape[0] // 2
            null.append(cross_validated_auc(ref[perm[:half]], ref[perm[half:]], settings, rng))
        mean, std = float(np.mean(null)), float(np.std(null, ddof=1))
        threshold = max(settings.min_auc, mean + settings.k * std)
        return cls(ref, threshold, tuple(null), settings, seed)

    def compute(self, current: ArrayLike) -> DriftResult:
        cur = as_matrix(current, "current", self.reference.shape[1], min_rows=self.settings.n_folds)
        rng = np.random.default_rng(self.seed + 1)
        auc = cross_validated_auc(self.reference, cur, self.settings, rng)
        details = {
            "null_auc_mean": float(np.mean(self.null_aucs)),
            "null_auc_std": float(np.std(self.null_aucs, ddof=1)),
            "min_auc": self.settings.min_auc,
            "n_reference": int(self.reference.shape[0]),
            "n_current": int(cur.shape[0]),
            "rule": "statistic > threshold",
        }
        return DriftResult(
            "domain_classifier", auc, None, self.threshold, auc > self.threshold, "distance", details
        )


@MULTIVARIATE_DRIFT_METHODS.register("domain_classifier")
def domain_classifier(reference: ArrayLike, current: ArrayLike, seed: int = 0) -> DriftResult:
    """Fit on the reference and compare the current matrix, default settings."""
    return DomainClassifierDrift.fit(reference, seed=seed).compute(current)
