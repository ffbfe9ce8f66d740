"""Multivariate anomalies over windows of several metrics: isolation forest and local outlier factor.

Input is a matrix n_windows × n_metrics (e.g. one row per hourly window: accuracy, latency p95,
error rate, ...). Columns are standardised (mean 0, std 1; a constant column becomes 0) by default,
because both methods are scale-sensitive and metrics live on unrelated scales. Each window gets a
score where larger is more anomalous, and is flagged when score > `score_threshold`, which is exactly
scikit-learn's own `predict(...) == -1` rule:

- isolation forest: score = −score_samples (in (0, 1]); threshold = −offset_ when
  `score_threshold` is None. scikit-learn's "auto" offset (0.5) flags about a fifth of plain
  Gaussian noise, far too many for alerting, so the default is a fixed score threshold of 0.7:
  on seeded N(0, I) matrices (100–1000 rows, 2–5 metrics) no normal row scored above 0.69 while a
  6σ outlier scored 0.77–0.87. Set `score_threshold=None` to use the contamination rule instead;
- LOF: score = the local outlier factor (−negative_outlier_factor_); threshold = −offset_ (1.5 with
  contamination="auto") when `score_threshold` is None. 1.5 flagged 3–6 % of plain Gaussian rows, so
  the default is a fixed factor of 3.0: on the same seeded matrices no normal row exceeded 2.63 while
  a 6σ outlier scored 6.3–8.7. n_neighbors is capped at n_windows − 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from engine.algorithms.anomaly.base import AnomalyResult, anomaly_method


def standardise_columns(matrix: np.ndarray) -> np.ndarray:
    """(x − column mean) / column std (ddof=0); constant columns map to 0."""
    centred = matrix - matrix.mean(axis=0)
    std = matrix.std(axis=0)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)


def _check_contamination(name: str, contamination: float | str) -> None:
    if contamination != "auto" and not (isinstance(contamination, float) and 0 < contamination <= 0.5):
        raise ValueError(f"{name}: contamination must be 'auto' or a float in (0, 0.5]")


def _require_rows(name: str, matrix: np.ndarray, minimum: int) -> None:
    if matrix.shape[0] < minimum:
        raise ValueError(f"{name}: needs at least {minimum} windows (rows), got {matrix.shape[0]}")


@dataclass(frozen=True, slots=True)
class IsolationForestParams:
    n_estimators: int = 100
    max_samples: int | Literal["auto"] = "auto"
    contamination: float | Literal["auto"] = "auto"
    seed: int = 0
    standardize: bool = True
    score_threshold: float | None = 0.7

    def __post_init__(self) -> None:
        if self.score_threshold is not None and not 0 < self.score_threshold < 1:
            raise ValueError("isolation_forest: score_threshold must be in (0, 1) or None")
        if self.n_estimators < 1:
            raise ValueError("isolation_forest: n_estimators must be >= 1")
        if self.max_samples != "auto" and not (isinstance(self.max_samples, int) and self.max_samples >= 1):
            raise ValueError("isolation_forest: max_samples must be 'auto' or an int >= 1")
        _check_contamination("isolation_forest", self.contamination)


@anomaly_method("isolation_forest", IsolationForestParams, multivariate=True)
def isolation_forest(matrix: np.ndarray, params: IsolationForestParams) -> AnomalyResult:
    _require_rows("isolation_forest", matrix, 2)
    features = standardise_columns(matrix) if params.standardize else matrix
    max_samples: int | str = params.max_samples
    if isinstance(max_samples, int):
        max_samples = min(max_samples, matrix.shape[0])
    model = IsolationForest(
        n_estimators=params.n_estimators,
        max_samples=max_samples,
        contamination=params.contamination,
        random_state=params.seed,
    ).fit(features)
    scores = -model.score_samples(features)
    threshold = float(-model.offset_) if params.score_threshold is None else params.score_threshold
    return AnomalyResult(
        method="isolation_forest",
        scores=scores,
        is_anomaly=scores > threshold,
        score_threshold=threshold,
        details={"n_windows": int(matrix.shape[0]), "n_metrics": int(matrix.shape[1])},
    )


@dataclass(frozen=True, slots=True)
class LOFParams:
    n_neighbors: int = 20
    contamination: float | Literal["auto"] = "auto"
    standardize: bool = True
    score_threshold: float | None = 3.0

    def __post_init__(self) -> None:
        if self.score_threshold is not None and not self.score_threshold > 1:
            raise ValueError("lof: score_threshold must be > 1 (a local outlier factor) or None")
        if self.n_neighbors < 1:
            raise ValueError("lof: n_neighbors must be >= 1")
        _check_contamination("lof", self.contamination)


@anomaly_method("lof", LOFParams, multivariate=True)
def lof(matrix: np.ndarray, params: LOFParams) -> AnomalyResult:
    _require_rows("lof", matrix, 2)
    features = standardise_columns(matrix) if params.standardize else matrix
    n_neighbors = min(params.n_neighbors, matrix.shape[0] - 1)
    model = LocalOutlierFactor(n_neighbors=n_neighbors, contamination=params.contamination)
    model.fit(features)
    scores = -model.negative_outlier_factor_
    threshold = float(-model.offset_) if params.score_threshold is None else params.score_threshold
    return AnomalyResult(
        method="lof",
        scores=scores,
        is_anomaly=scores > threshold,
        score_threshold=threshold,
        details={
            "n_windows": int(matrix.shape[0]),
            "n_metrics": int(matrix.shape[1]),
            "n_neighbors_used": n_neighbors,
        },
    )
