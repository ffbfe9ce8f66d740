"""Score-based classification metrics: ROC AUC, average precision, log loss, Brier, calibration error.

Raw forms are exact (ROC AUC by the rank formula, ties counted half; average precision as sklearn's
step-wise sum over distinct thresholds). Multiclass ROC AUC and average precision are one-vs-rest macro
averages over the classes that have both positive and negative rows. A metric undefined on the input
(one class only) has value NaN and `details["undefined"]` says why.

From a `ScoreHistogram` the order of rows inside a bin is unknown. Each histogram metric computes the
exact interval [lo, hi] of values that some within-bin order (or, for Brier and ECE, some within-bin
score) admits, and reports the midpoint with `error_bound = (hi - lo) / 2`: the raw-data value is within
`value ± error_bound` (for average precision: for scores without ties; the tied-bin value is included in
the interval too). For ROC AUC the bound is half the share of positive/negative pairs that share a bin.

Log loss and Brier from `LogLossBrierSums` are exact. ECE uses `n_bins` equal-width bins over [0, 1]
(default 10) on the positive-class score: Σ_b |Σ_{i∈b}(y_i - s_i)| / n.

>>> import numpy as np
>>> y, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
>>> roc_auc_binary(y == 1, s)
0.75
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.special import digamma
from scipy.stats import rankdata

from engine.algorithms.performance._common import MetricValue
from engine.algorithms.performance.aggregates import LogLossBrierSums, ScoreHistogram, class_probabilities
from engine.algorithms.performance.registry import (
    CLASSIFICATION_METRICS,
    ClassificationAggregates,
    ClassificationData,
    ClassificationMetric,
)

DEFAULT_ECE_BINS = 10
NAN = float("nan")


def roc_auc_binary(is_pos: NDArray[np.bool_], score: NDArray[np.float64]) -> float:
    n_pos = int(is_pos.sum())
    n_neg = is_pos.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return NAN
    ranks = rankdata(score)
    return float((ranks[is_pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def average_precision_binary(is_pos: NDArray[np.bool_], score: NDArray[np.float64]) -> float:
    n_pos = int(is_pos.sum())
    if n_pos == 0:
        return NAN
    order = np.argsort(-score, kind="mergesort")
    s, y = score[order], is_pos[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]  # end of each block of equal scores
    tps = np.cumsum(y)[last]
    precision = tps / (last + 1.0)
    recall_step = np.diff(np.r_[0, tps]) / n_pos
    return float((recall_step * precision).sum())


def _binary_or_ovr(
    data: ClassificationData, name: str, fn: Callable[[NDArray[np.bool_], NDArray[np.float64]], float]
) -> MetricValue:
    true_idx, proba = class_probabilities(
        data.y_true, data.need_score(name), labels=data.labels, pos_label=data.pos_label, ranking_only=True
    )
    n = int(true_idx.size)
    if proba.shape[1] == 2:
        value = fn(true_idx == 1, proba[:, 1])
        return MetricValue(name, value, n, details=_why(value, "y_true has a single class"))
    per = [fn(true_idx == k, proba[:, k]) for k in range(proba.shape[1])]
    defined = [v for v in per if not np.isnan(v)]
    value = float(np.mean(defined)) if defined else NAN
    labels = (
        tuple(data.labels) if data.labels is not None else tuple(np.unique(np.asarray(data.y_true)).tolist())
    )
    details = {"average": "macro one-vs-rest", **_why(value, "no class has both positives and negatives")}
    return MetricValue(name, value, n, labels=labels, per_class=tuple(per), details=details)


def _why(value: float, reason: str) -> dict[str, str]:
    return {"undefined": reason} if np.isnan(value) else {}


def _hist_arrays(h: ScoreHistogram) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    if h.n == 0:
        raise ValueError("score histogram is empty (no rows)")
    return (
        np.asarray(h.edges, dtype=np.float64),
        np.asarray(h.pos_counts, dtype=np.float64),
        np.asarray(h.neg_counts, dtype=np.float64),
    )


def _interval(name: str, lo: float, hi: float, n: int, reason: str = "") -> MetricValue:
    if reason:
        return MetricValue(name, NAN, n, error_bound=0.0, details={"undefined": reason})
    return MetricValue(name, (lo + hi) / 2.0, n, error_bound=(hi - lo) / 2.0, details={"interval": [lo, hi]})


def roc_auc_histogram(h: ScoreHistogram) -> MetricValue:
    _, pos, neg = _hist_arrays(h)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return _interval("roc_auc", NAN, NAN, h.n, "histogram has a single class")
    neg_below = np.cumsum(neg) - neg
    ordered = float((pos * neg_below).sum())
    same_bin = float((pos * neg).sum())
    pairs = n_pos * n_neg
    return _interval("roc_auc", ordered / pairs, (ordered + same_bin) / pairs, h.n)


def average_precision_histogram(h: ScoreHistogram) -> MetricValue:
    _, pos, neg = _hist_arrays(h)
    n_pos = pos.sum()
    if n_pos == 0:
        return _interval("average_precision", NAN, NAN, h.n, "histogram has no positives")
    p, q = pos[::-1], neg[::-1]  # descending scores
    tp = np.cumsum(p) - p
    fp = np.cumsum(q) - q
    # Σ_{k=1..p} (tp+k)/(c+k) = p - (c - tp)·(ψ(c+p+1) - ψ(c+1)), with c the rows ranked above
    best = p - fp * (digamma(tp + fp + p + 1) - digamma(tp + fp + 1))
    worst = p - (fp + q) * (digamma(tp + fp + q + p + 1) - digamma(tp + fp + q + 1))
    tied = safe_tied(p, q, tp, fp)
    lo = float(np.minimum(worst, tied).sum() / n_pos)
    hi = float(np.maximum(best, tied).sum() / n_pos)
    return _interval("average_precision", lo, hi, h.n)


def safe_tied(
    p: NDArray[np.float64], q: NDArray[np.float64], tp: NDArray[np.float64], fp: NDArray[np.float64]
) -> NDArray[np.float64]:
    den = tp + fp + p + q
    out = np.zeros_like(p)
    np.divide(p * (tp + p), den, out=out, where=den > 0)
    return out


def brier_histogram(h: ScoreHistogram) -> MetricValue:
    e, pos, neg = _hist_arrays(h)
    a, b = e[:-1], e[1:]
    lo = float((neg * a**2 + pos * (1 - b) ** 2).sum()) / h.n
    hi = float((neg * b**2 + pos * (1 - a) ** 2).sum()) / h.n
    return _interval("brier", lo, hi, h.n)


def ece_raw(is_pos: NDArray[np.bool_], score: NDArray[np.float64], n_bins: int = DEFAULT_ECE_BINS) -> float:
    edges = np.asarray(ScoreHistogram.uniform_edges(n_bins))
    idx = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, n_bins - 1)
    gap = np.bincount(idx, weights=is_pos.astype(np.float64) - score, minlength=n_bins)
    return float(np.abs(gap).sum() / score.size)


def ece_histogram(h: ScoreHistogram, n_bins: int = DEFAULT_ECE_BINS) -> MetricValue:
    e, pos, neg = _hist_arrays(h)
    coarse = np.asarray(ScoreHistogram.uniform_edges(n_bins))
    at = np.clip(np.searchsorted(e, coarse), 0, e.size - 1)
    if not np.array_equal(e[at], coarse):
        raise ValueError(f"histogram edges do not refine {n_bins} equal-width calibration bins")
    group = np.searchsorted(at, np.arange(e.size - 1), side="right") - 1
    count = pos + neg
    y_sum = np.bincount(group, weights=pos, minlength=n_bins)
    s_lo = np.bincount(group, weights=count * e[:-1], minlength=n_bins)
    s_hi = np.bincount(group, weights=count * e[1:], minlength=n_bins)
    far = np.maximum(np.abs(y_sum - s_lo), np.abs(y_sum - s_hi))
    near = np.where(
        (y_sum >= s_lo) & (y_sum <= s_hi), 0.0, np.minimum(np.abs(y_sum - s_lo), np.abs(y_sum - s_hi))
    )
    return _interval("ece", float(near.sum() / h.n), float(far.sum() / h.n), h.n)


def _binary_scores(data: ClassificationData, name: str) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    true_idx, proba = class_probabilities(
        data.y_true, data.need_score(name), labels=data.labels, pos_label=data.pos_label
    )
    if proba.shape[1] != 2:
        raise ValueError(f"{name} is defined for binary scores; got {proba.shape[1]} classes")
    return true_idx == 1, proba[:, 1]


def _ece_from_raw(data: ClassificationData) -> MetricValue:
    is_pos, score = _binary_scores(data, "ece")
    return MetricValue("ece", ece_raw(is_pos, score), int(score.size), details={"n_bins": DEFAULT_ECE_BINS})


def _loss_from_raw(name: str) -> Callable[[ClassificationData], MetricValue]:
    def compute(data: ClassificationData) -> MetricValue:
        sums = LogLossBrierSums.from_probabilities(
            data.y_true, data.need_score(name), labels=data.labels, pos_label=data.pos_label
        )
        return _loss_from_sums(name, sums)

    return compute


def _loss_from_sums(name: str, sums: LogLossBrierSums) -> MetricValue:
    if sums.n == 0:
        raise ValueError(f"{name}: loss sums are empty (n = 0)")
    total = sums.sum_log_loss if name == "log_loss" else sums.sum_brier
    return MetricValue(name, total / sums.n, sums.n)


def _brier_from_aggregates(agg: ClassificationAggregates) -> MetricValue:
    if agg.sums is not None:
        return _loss_from_sums("brier", agg.sums)
    return brier_histogram(agg.need_histogram("brier"))


def _log_loss_from_aggregates(agg: ClassificationAggregates) -> MetricValue:
    if agg.sums is None:
        raise ValueError("log_loss needs LogLossBrierSums")
    return _loss_from_sums("log_loss", agg.sums)


def _ovr(
    name: str, fn: Callable[[NDArray[np.bool_], NDArray[np.float64]], float]
) -> Callable[[ClassificationData], MetricValue]:
    return lambda data: _binary_or_ovr(data, name, fn)


def _hist(
    fn: Callable[[ScoreHistogram], MetricValue], name: str
) -> Callable[[ClassificationAggregates], MetricValue]:
    return lambda agg: fn(agg.need_histogram(name))


for _name, _hib, _upper, _raw, _agg in (
    ("roc_auc", True, 1.0, _ovr("roc_auc", roc_auc_binary), _hist(roc_auc_histogram, "roc_auc")),
    (
        "average_precision",
        True,
        1.0,
        _ovr("average_precision", average_precision_binary),
        _hist(average_precision_histogram, "average_precision"),
    ),
    ("log_loss", False, None, _loss_from_raw("log_loss"), _log_loss_from_aggregates),
    ("brier", False, 2.0, _loss_from_raw("brier"), _brier_from_aggregates),
    ("ece", False, 1.0, _ece_from_raw, _hist(ece_histogram, "ece")),
):
    CLASSIFICATION_METRICS.add(_name, ClassificationMetric(_name, _hib, 0.0, _upper, _raw, _agg))
