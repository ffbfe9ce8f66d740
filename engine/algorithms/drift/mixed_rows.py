"""Multivariate drift of mixed (numeric + categorical) rows: encode with `TabularEncoder` fitted on the
reference, then run a domain classifier or a PCA reconstruction (pure: arrays in, a result out).

- `domain_classifier`: one-hot categoricals, `DomainClassifierDrift` (histogram gradient boosting, stratified
  k-fold out-of-fold ROC AUC of reference (0) vs current (1)); threshold `max(min_auc, mean + k·σ)` of the AUCs
  of reference-half vs reference-half splits (or a fixed one), plus the Hanley–McNeil 95 % interval of the AUC.
- `pca`: frequency-encoded categoricals, `PCAReconstructionDrift` keeping `variance` (65 %, NannyML's default)
  of the reference variance; the window's mean reconstruction error against mean ± k·σ of the errors of
  `n_chunks` consecutive reference chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.algorithms.drift.domain_classifier import DomainClassifierDrift, DomainClassifierSettings
from engine.algorithms.drift.pca_reconstruction import PCAReconstructionDrift
from engine.algorithms.drift.tabular import Encoding, FloatArray, TabularEncoder, auc_interval

METHODS = ("domain_classifier", "pca")


@dataclass(frozen=True, slots=True)
class MultivariateParams:
    seed: int = 0
    folds: int = 3
    null_splits: int = 5
    max_iter: int = 50
    min_auc: float = 0.55
    variance: float = 0.65
    n_chunks: int = 10
    k: float = 3.0
    threshold: float | None = None  # fixed threshold instead of the calibrated one


@dataclass(frozen=True, slots=True)
class MultivariateResult:
    method: str
    statistic: float
    threshold: float
    lower_threshold: float | None
    drift: bool
    interval: tuple[float, float] | None  # the AUC's 95 % interval (domain classifier)
    details: dict[str, Any] = field(default_factory=dict)


def min_rows(method: str, params: MultivariateParams) -> tuple[int, int]:
    """(reference, current) rows a method needs."""
    if method == "domain_classifier":
        return 4 * params.folds, params.folds
    return max(params.n_chunks, 2), 1


def multivariate_drift(
    method: str, ref_num: FloatArray, ref_cat: list[list[str | None]], cur_num: FloatArray,
    cur_cat: list[list[str | None]], params: MultivariateParams,
) -> MultivariateResult:
    if method not in METHODS:
        raise ValueError(f"unknown multivariate method {method!r}; known: {', '.join(METHODS)}")
    encoder = TabularEncoder.fit(ref_num, ref_cat)
    encoding: Encoding = "onehot" if method == "domain_classifier" else "frequency"
    ref, cur = encoder.transform(ref_num, ref_cat, encoding), encoder.transform(cur_num, cur_cat, encoding)
    if method == "domain_classifier":
        settings = DomainClassifierSettings(
            max_rows_per_side=max(ref.shape[0], cur.shape[0]), n_folds=params.folds,
            n_null_splits=max(params.null_splits, 2), k=params.k, min_auc=params.min_auc, max_iter=params.max_iter)
        fitted = DomainClassifierDrift.fit(ref, settings, seed=params.seed)
        res = fitted.compute(cur)
        threshold = params.threshold if params.threshold is not None else res.threshold
        assert threshold is not None
        lo, hi = auc_interval(res.statistic, ref.shape[0], cur.shape[0])
        return MultivariateResult(method, res.statistic, threshold, None, res.statistic > threshold, (lo, hi),
                                  {**res.details, "calibrated_threshold": res.threshold, "folds": params.folds,
                                   "null_splits": settings.n_null_splits, "encoded_columns": int(ref.shape[1]),
                                   "interval": "Hanley-McNeil 95 %"})
    pca = PCAReconstructionDrift.fit(ref, variance=params.variance, n_chunks=params.n_chunks, k=params.k)
    res = pca.compute(cur)
    upper = params.threshold if params.threshold is not None else pca.upper
    lower = None if params.threshold is not None else pca.lower
    drift = res.statistic > upper or (lower is not None and res.statistic < lower)
    return MultivariateResult(method, res.statistic, upper, lower, drift, None,
                              {**res.details, "variance": params.variance, "n_chunks": params.n_chunks,
                               "encoded_columns": int(ref.shape[1])})


def subsample(n: int, cap: int, seed: int) -> np.ndarray:
    """Row indices (in order) of a uniform seeded sample of at most `cap` of `n` rows."""
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))
