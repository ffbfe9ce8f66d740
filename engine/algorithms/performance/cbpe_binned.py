"""CBPE from score histograms: the same estimates as `cbpe.estimate_performance` on raw rows, computed from
counts per (score bin, deployed prediction) cell, so a window's estimate needs no row.

Calibration is a step function on `n_bins` equal bins of [0, 1] (`BinnedCalibrator`): isotonic regression
of the reference's positive rate per bin on the bin midpoints, weighted by the bin's labelled rows. Every
row of a bin gets the same calibrated probability, so the expected confusion matrix of a window is a sum
over cells, exactly `estimate_performance(calibrator.apply(score), scores=bin_of(score), y_pred=…)` on the
raw rows (AUC ranks rows by bin: rows of one bin count as tied). The band draws each cell's positives as
Binomial(count, p) — the same distribution as the per-row Bernoulli draws of `cbpe`.

Multiclass (one-vs-rest, as NannyML's CBPE): each class j has its own calibrator of the probability of j;
the expected confusion entry C[j, k] = Σ over rows predicted k of cal_j(p_j), unnormalised across classes.
Expected accuracy = Σ_k C[k, k] / n; per-class precision C[k, k] / predicted k, recall C[k, k] / Σ_k' C[k, k'],
macro averages over the classes. The band draws the cells independently (an approximation: the one-vs-rest
probabilities of one row are not jointly drawn).

>>> cal = BinnedCalibrator.from_counts([0, 1, 3, 4], [4, 4, 4, 4])
>>> cal.values
(0.0, 0.25, 0.75, 1.0)
>>> est = estimate_binary_cells([1, 2], [0, 1], [10, 10], cal, n_draws=50)
>>> round(est.metric("accuracy").value, 3)
0.75
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.isotonic import IsotonicRegression

from engine.algorithms.performance.cbpe import CBPE_METRICS, EstimatedMetric, PerformanceEstimate, _rates

N_BINS = 100  # the prediction windows' score bins (engine.windows.spec.SCORE_BINS)
MULTICLASS_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


def bin_of(scores: ArrayLike, n_bins: int = N_BINS) -> NDArray[np.int64]:
    """Bin index of each score in [0, 1]: floor(score · n_bins), 1.0 in the last bin (as the SQL)."""
    s = np.asarray(scores, dtype=np.float64)
    return np.clip(np.floor(s * n_bins), 0, n_bins - 1).astype(np.int64)


@dataclass(frozen=True, slots=True)
class BinnedCalibrator:
    values: tuple[float, ...]  # calibrated P(positive) per bin

    @classmethod
    def from_counts(cls, positives: ArrayLike, totals: ArrayLike) -> BinnedCalibrator:
        pos = np.asarray(positives, dtype=np.float64)
        tot = np.asarray(totals, dtype=np.float64)
        if pos.shape != tot.shape or pos.ndim != 1 or np.any(pos > tot) or np.any(pos < 0):
            raise ValueError("positives and totals: equal-length counts, positives ≤ totals")
        seen = tot > 0
        if seen.sum() < 2:
            raise ValueError("calibration needs labelled reference scores in at least two bins")
        mid = (np.arange(pos.size) + 0.5) / pos.size
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(mid[seen], pos[seen] / tot[seen], sample_weight=tot[seen])
        return cls(tuple(float(v) for v in iso.predict(mid)))

    @classmethod
    def fit(cls, is_positive: ArrayLike, scores: ArrayLike, n_bins: int = N_BINS) -> BinnedCalibrator:
        b = bin_of(scores, n_bins)
        y = np.asarray(is_positive, dtype=np.float64)
        return cls.from_counts(np.bincount(b, weights=y, minlength=n_bins), np.bincount(b, minlength=n_bins))

    def apply(self, scores: ArrayLike) -> NDArray[np.float64]:
        return np.asarray(self.values)[bin_of(scores, len(self.values))]


def _band(draws: NDArray[np.float64], alpha: float) -> tuple[float, float, float]:
    d = draws[np.isfinite(draws)]
    if not d.size:
        return float("nan"), float("nan"), float("nan")
    lo, hi = np.quantile(d, [alpha, 1 - alpha])
    return float(d.std(ddof=1)) if d.size > 1 else float("nan"), float(lo), float(hi)


def estimate_binary_cells(
    bins: ArrayLike, predicted_positive: ArrayLike, counts: ArrayLike, calibrator: BinnedCalibrator, *,
    n_draws: int = 200, confidence: float = 0.95, seed: int = 0,
) -> PerformanceEstimate:
    """Expected accuracy, precision, recall, F1 and ROC AUC of the deployed decision from cells
    (score bin, predicted positive?, row count)."""
    b = np.asarray(bins, dtype=np.int64)
    yhat = np.asarray(predicted_positive, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    if not (b.shape == yhat.shape == c.shape) or b.ndim != 1:
        raise ValueError("bins, predicted_positive, counts: equal-length 1-D")
    if n_draws < 2 or not 0.0 < confidence < 1.0:
        raise ValueError("n_draws must be >= 2 and confidence in (0, 1)")
    n = int(c.sum())
    if n == 0:
        raise ValueError("no rows to estimate on")
    k = len(calibrator.values)
    p = np.asarray(calibrator.values)[b]
    tp, fp, fn = float((c * p) @ yhat), float((c * (1 - p)) @ yhat), float((c * p) @ (1 - yhat))
    point = {m: float(v) for m, v in _rates(np.array(tp), np.array(fp), np.array(fn), n).items()}
    pos_b = np.bincount(b, weights=c * p, minlength=k)
    neg_b = np.bincount(b, weights=c * (1 - p), minlength=k)
    pq_b = np.bincount(b, weights=c * p * (1 - p), minlength=k)
    pairs = float(pos_b.sum() * neg_b.sum() - pq_b.sum())
    below = np.cumsum(neg_b) - neg_b
    point["roc_auc"] = float((pos_b * below).sum() + 0.5 * (pos_b * neg_b - pq_b).sum()) / pairs if pairs > 0 else float("nan")
    rng = np.random.default_rng(seed)
    pos = rng.binomial(c.astype(np.int64)[None, :], p[None, :], size=(n_draws, c.size)).astype(np.float64)
    neg = c[None, :] - pos
    draws = _rates(pos @ yhat, neg @ yhat, pos @ (1 - yhat), n)
    onehot = np.zeros((c.size, k))
    onehot[np.arange(c.size), b] = 1.0
    pb, nb = pos @ onehot, neg @ onehot
    npos, nneg = pb.sum(axis=1), nb.sum(axis=1)
    ordered = (pb * (np.cumsum(nb, axis=1) - nb + 0.5 * nb)).sum(axis=1)
    auc = np.full(n_draws, np.nan)
    np.divide(ordered, npos * nneg, out=auc, where=npos * nneg > 0)
    draws["roc_auc"] = auc
    alpha = (1.0 - confidence) / 2.0
    metrics = tuple(EstimatedMetric(m, point[m], *_band(np.asarray(draws[m], dtype=np.float64), alpha)) for m in CBPE_METRICS)
    return PerformanceEstimate(n, (n - tp - fp - fn, fp, fn, tp), metrics, confidence)


@dataclass(frozen=True, slots=True)
class MulticlassEstimate:
    n: int
    expected_confusion: tuple[tuple[float, ...], ...]  # rows: expected actual class, columns: predicted
    metrics: tuple[EstimatedMetric, ...]
    confidence: float

    def metric(self, name: str) -> EstimatedMetric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "expected_confusion": [list(r) for r in self.expected_confusion],
                "confidence": self.confidence, "metrics": [m.to_dict() for m in self.metrics]}


def _multiclass_rates(conf: NDArray[np.float64], n_pred: NDArray[np.float64], n: int) -> dict[str, NDArray[np.float64]]:
    """conf[..., j, k] expected rows of class j predicted k; n_pred[..., k] rows predicted k."""
    diag = np.diagonal(conf, axis1=-2, axis2=-1)
    true = conf.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(n_pred > 0, diag / np.where(n_pred > 0, n_pred, 1), 0.0)
        rec = np.where(true > 0, diag / np.where(true > 0, true, 1), 0.0)
        den = n_pred + true
        f1 = np.where(den > 0, 2 * diag / np.where(den > 0, den, 1), 0.0)
    return {"accuracy": diag.sum(axis=-1) / n, "precision_macro": prec.mean(axis=-1),
            "recall_macro": rec.mean(axis=-1), "f1_macro": f1.mean(axis=-1)}


def estimate_multiclass_cells(
    predicted: ArrayLike, klass: ArrayLike, bins: ArrayLike, counts: ArrayLike, n_predicted: ArrayLike,
    calibrators: list[BinnedCalibrator], *, n_draws: int = 200, confidence: float = 0.95, seed: int = 0,
) -> MulticlassEstimate:
    """From cells (predicted class index k, class index j, bin of p_j, rows) and the rows per predicted
    class; `calibrators[j]` calibrates the probability of class j."""
    k_ = np.asarray(predicted, dtype=np.int64)
    j_ = np.asarray(klass, dtype=np.int64)
    b = np.asarray(bins, dtype=np.int64)
    c = np.asarray(counts, dtype=np.float64)
    npred = np.asarray(n_predicted, dtype=np.float64)
    K = len(calibrators)
    if npred.shape != (K,) or not (k_.shape == j_.shape == b.shape == c.shape):
        raise ValueError("cells of equal length; one predicted count and one calibrator per class")
    if n_draws < 2 or not 0.0 < confidence < 1.0:
        raise ValueError("n_draws must be >= 2 and confidence in (0, 1)")
    n = int(npred.sum())
    if n == 0:
        raise ValueError("no rows to estimate on")
    table = np.asarray([cal.values for cal in calibrators])
    p = table[j_, b]
    conf = np.zeros((K, K))
    np.add.at(conf, (j_, k_), c * p)
    point = {m: float(v) for m, v in _multiclass_rates(conf, npred, n).items()}
    rng = np.random.default_rng(seed)
    hits = rng.binomial(c.astype(np.int64)[None, :], p[None, :], size=(n_draws, c.size)).astype(np.float64)
    drawn = np.zeros((n_draws, K * K))
    np.add.at(drawn.T, j_ * K + k_, hits.T)
    draws = _multiclass_rates(drawn.reshape(n_draws, K, K), npred[None, :], n)
    alpha = (1.0 - confidence) / 2.0
    metrics = tuple(EstimatedMetric(m, point[m], *_band(draws[m], alpha)) for m in MULTICLASS_METRICS)
    return MulticlassEstimate(n, tuple(tuple(float(x) for x in r) for r in conf), metrics, confidence)


def estimate_multiclass(
    calibrated: ArrayLike, y_pred: ArrayLike, *, n_draws: int = 200, confidence: float = 0.95, seed: int = 0
) -> MulticlassEstimate:
    """Row-level multiclass CBPE: `calibrated[i, j]` the one-vs-rest calibrated probability of class j,
    `y_pred[i]` the deployed (arg-max) class index. Band: per-row Bernoulli draws of each (row, class)."""
    P = np.asarray(calibrated, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.int64)
    if P.ndim != 2 or pred.shape != (P.shape[0],) or not np.all(np.isfinite(P)):
        raise ValueError("calibrated: finite n × K, y_pred: n class indices")
    n, K = P.shape
    if n == 0:
        raise ValueError("no rows to estimate on")
    onehot = np.zeros((n, K))
    onehot[np.arange(n), pred] = 1.0
    conf = P.T @ onehot
    npred = onehot.sum(axis=0)
    point = {m: float(v) for m, v in _multiclass_rates(conf, npred, n).items()}
    rng = np.random.default_rng(seed)
    drawn = np.stack([(rng.random(P.shape) < P).astype(np.float64).T @ onehot for _ in range(n_draws)])
    draws = _multiclass_rates(drawn, npred[None, :], n)
    alpha = (1.0 - confidence) / 2.0
    metrics = tuple(EstimatedMetric(m, point[m], *_band(draws[m], alpha)) for m in MULTICLASS_METRICS)
    return MulticlassEstimate(n, tuple(tuple(float(x) for x in r) for r in conf), metrics, confidence)
