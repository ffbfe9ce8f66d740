"""Label-free performance estimation from calibrated scores (confidence-based, in the style of CBPE).

While labels are missing, a calibrated probability p_i = P(y_i = 1 | x_i) says how likely each row is
positive. The expected confusion matrix of a window follows (TP = Σ p·ŷ, FP = Σ (1-p)·ŷ,
FN = Σ p·(1-ŷ), TN = Σ (1-p)·(1-ŷ)), and from it expected accuracy (exact expectation), precision, recall
and F1 (ratios of expected counts, as CBPE). Expected ROC AUC is the ratio of the expected number of
correctly ordered positive/negative pairs to the expected number of pairs, ranking by the model's
scores. The band is the distribution of the realised metric if labels were drawn y_i ~ Bernoulli(p_i)
(seeded Monte-Carlo): it is the sampling error of the window, and assumes calibration holds under the
shift (a covariate shift keeps P(y|x), which is the case CBPE is built for).

Calibrate on a labelled reference with `IsotonicCalibrator.fit` (sklearn's IsotonicRegression; the fitted
step function is kept as knots so applying it is a pure `np.interp`).

The estimate is of the **deployed decision**: pass the model's predicted labels (`y_pred`), or its own
scores and its threshold (`scores`, `threshold`). There is no default threshold: thresholding the
calibrated probabilities at 0.5 estimates a classifier nobody deployed.

>>> import numpy as np
>>> est = estimate_performance(np.array([0.9, 0.8, 0.2, 0.1]), y_pred=np.array([1, 1, 0, 0]), n_draws=50)
>>> round(est.metric("accuracy").value, 3)
0.85
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata
from sklearn.isotonic import IsotonicRegression

from engine.algorithms.performance._common import (
    Label,
    as_1d,
    check_probabilities,
    check_same_length,
    json_float,
    safe_div,
)

CBPE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
_MAX_CELLS = 4_000_000  # draws × rows simulated per block


@dataclass(frozen=True, slots=True)
class IsotonicCalibrator:
    """Monotone map from model score to P(y = pos_label); knots of the fitted isotonic step function."""

    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]

    @classmethod
    def fit(cls, y_true: ArrayLike, y_score: ArrayLike, *, pos_label: Label = 1) -> IsotonicCalibrator:
        t = as_1d(y_true, "y_true", numeric=False)
        s = as_1d(y_score, "y_score")
        check_same_length(y_true=t, y_score=s)
        if np.unique(s).size < 2:
            raise ValueError("calibration needs at least two distinct reference scores")
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, (t == pos_label) * 1.0)
        return cls(tuple(iso.X_thresholds_.tolist()), tuple(iso.y_thresholds_.tolist()))

    def apply(self, y_score: ArrayLike) -> NDArray[np.float64]:
        return np.interp(as_1d(y_score, "y_score"), self.knots_x, self.knots_y)

    def to_dict(self) -> dict[str, Any]:
        return {"knots_x": list(self.knots_x), "knots_y": list(self.knots_y)}


@dataclass(frozen=True, slots=True)
class EstimatedMetric:
    name: str
    value: float
    sampling_error: float
    lower: float
    upper: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": json_float(self.value),
            "sampling_error": json_float(self.sampling_error),
            "lower": json_float(self.lower),
            "upper": json_float(self.upper),
        }


@dataclass(frozen=True, slots=True)
class PerformanceEstimate:
    n: int
    expected_confusion: tuple[float, float, float, float]  # TN, FP, FN, TP
    metrics: tuple[EstimatedMetric, ...]
    confidence: float

    def metric(self, name: str) -> EstimatedMetric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"no estimate for {name!r}; have {[m.name for m in self.metrics]}")

    def to_dict(self) -> dict[str, Any]:
        tn, fp, fn, tp = self.expected_confusion
        return {
            "n": self.n,
            "expected_confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
            "confidence": self.confidence,
            "metrics": [m.to_dict() for m in self.metrics],
        }


def _rates(
    tp: NDArray[np.float64], fp: NDArray[np.float64], fn: NDArray[np.float64], n: int
) -> dict[str, Any]:
    tn = n - tp - fp - fn
    return {
        "accuracy": (tp + tn) / n,
        "precision": safe_div(tp, tp + fp),
        "recall": safe_div(tp, tp + fn),
        "f1": safe_div(2 * tp, 2 * tp + fp + fn),
    }


def expected_roc_auc(proba: NDArray[np.float64], score: NDArray[np.float64]) -> float:
    """E[ordered pos/neg pairs] / E[pos/neg pairs] with rows ranked by `score` (ties count half)."""
    q = 1.0 - proba
    self_pairs = float((proba * q).sum())
    pairs = float(proba.sum() * q.sum()) - self_pairs
    if pairs <= 0.0:
        return float("nan")
    uniq, group = np.unique(score, return_inverse=True)
    p_g = np.bincount(group, weights=proba, minlength=uniq.size)
    n_g = np.bincount(group, weights=q, minlength=uniq.size)
    pq_g = np.bincount(group, weights=proba * q, minlength=uniq.size)
    below = np.cumsum(n_g) - n_g
    ordered = float((p_g * below).sum() + 0.5 * (p_g * n_g - pq_g).sum())
    return ordered / pairs


def estimate_performance(
    calibrated: ArrayLike,
    *,
    scores: ArrayLike | None = None,
    y_pred: ArrayLike | None = None,
    threshold: float | None = None,
    n_draws: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> PerformanceEstimate:
    """Estimate accuracy, precision, recall, F1 and ROC AUC of a binary classifier on unlabelled rows.

    `calibrated`: P(y = 1) per row. `scores`: the model's own scores (ranking for AUC; default: the
    calibrated values). `y_pred`: the deployed predicted labels in {0, 1}; without them, `scores` and the
    model's `threshold` are required (`scores >= threshold`, the model's decision).
    """
    p = as_1d(calibrated, "calibrated")
    check_probabilities(p, "calibrated")
    s = p if scores is None else as_1d(scores, "scores")
    if y_pred is None and (scores is None or threshold is None):
        raise ValueError("give the deployed predictions (y_pred), or the model's scores and its threshold")
    pred = (s >= threshold) if y_pred is None else as_1d(y_pred, "y_pred")
    n = check_same_length(calibrated=p, scores=s, y_pred=pred)
    if not np.all((pred == 0) | (pred == 1)):
        raise ValueError("y_pred must hold 0/1 labels")
    if n_draws < 2 or not 0.0 < confidence < 1.0:
        raise ValueError("n_draws must be >= 2 and confidence in (0, 1)")
    yhat = pred.astype(np.float64)
    tp, fp, fn = float(p @ yhat), float((1 - p) @ yhat), float(p @ (1 - yhat))
    point = {k: float(v) for k, v in _rates(np.array(tp), np.array(fp), np.array(fn), n).items()}
    point["roc_auc"] = expected_roc_auc(p, s)
    draws = _simulate(p, yhat, rankdata(s), n_draws, seed)
    alpha = (1.0 - confidence) / 2.0
    metrics = []
    for name in CBPE_METRICS:
        d = draws[name][np.isfinite(draws[name])]
        lo, hi = np.quantile(d, [alpha, 1 - alpha]) if d.size else (np.nan, np.nan)
        sd = float(d.std(ddof=1)) if d.size > 1 else float("nan")
        metrics.append(EstimatedMetric(name, point[name], sd, float(lo), float(hi)))
    return PerformanceEstimate(n, (n - tp - fp - fn, fp, fn, tp), tuple(metrics), confidence)


def _simulate(
    p: NDArray[np.float64], yhat: NDArray[np.float64], ranks: NDArray[np.float64], n_draws: int, seed: int
) -> dict[str, NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    n = p.size
    block = max(1, _MAX_CELLS // n)
    out: dict[str, list[NDArray[np.float64]]] = {name: [] for name in CBPE_METRICS}
    for start in range(0, n_draws, block):
        y = (rng.random((min(block, n_draws - start), n)) < p).astype(np.float64)
        tp, fp = y @ yhat, (1 - y) @ yhat
        fn = y @ (1 - yhat)
        for name, values in _rates(tp, fp, fn, n).items():
            out[name].append(values)
        n_pos = y.sum(axis=1)
        pairs = n_pos * (n - n_pos)
        auc = np.full(y.shape[0], np.nan)
        np.divide(y @ ranks - n_pos * (n_pos + 1) / 2.0, pairs, out=auc, where=pairs > 0)
        out["roc_auc"].append(auc)
    return {name: np.concatenate(parts) for name, parts in out.items()}
