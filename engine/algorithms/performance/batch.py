"""Classification metrics over many windows at once: the same aggregates as `aggregates`, stacked along a
leading axis (one element per time bucket), evaluated with array operations instead of a Python loop.

Each batch metric gives, element by element, the value `evaluate_classification_aggregates` gives for that
element (same formulas, same zero-division conventions, same histogram error bounds; a test checks them
equal to 1e-12). Where the per-element form raises because the element has no rows (empty confusion
counts, empty histogram, loss sums with n = 0) or the metric is undefined (ROC AUC of a single class), the
batch value is NaN with error bound 0. Only the aggregate forms the windows layer needs are here: the
confusion-count metrics, ROC AUC, average precision and expected calibration error from score histograms
(equal-width bins on [0, 1]), and log loss / Brier from loss sums.

>>> import numpy as np
>>> b = ClassificationBatch(labels=(0, 1), confusion=np.array([[[3, 1], [0, 4]], [[0, 0], [0, 0]]]))
>>> evaluate_classification_batch(["accuracy"], b)["accuracy"].values.tolist()
[0.875, nan]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import digamma

from engine.algorithms.performance._common import Label
from engine.algorithms.performance.scores import DEFAULT_ECE_BINS
from engine.algorithms.registry import Registry

F64 = NDArray[np.float64]
NAN = float("nan")
_RATES = ("precision", "recall", "f1", "specificity")


@dataclass(frozen=True, slots=True)
class BatchValues:
    """One metric over B elements: `values` and `error_bounds` of shape (B,), NaN where undefined;
    `per_class` of shape (B, k) in `labels` order for the per-class metrics."""

    name: str
    values: F64
    error_bounds: F64
    labels: tuple[Label, ...] = ()
    per_class: F64 | None = None


@dataclass(frozen=True, slots=True)
class ClassificationBatch:
    """Stacked classification aggregates. `confusion` (B, k, k): counts of actual `labels[i]`, predicted
    `labels[j]`; `pos_hist` / `neg_hist` (B, bins): score histograms over `edges` split by true label;
    `loss_n`, `log_loss_sum`, `brier_sum` (B,): loss sums. Any part may be None if no metric needs it."""

    labels: tuple[Label, ...]
    confusion: NDArray[np.int64] | None = None
    pos_hist: NDArray[np.int64] | None = None
    neg_hist: NDArray[np.int64] | None = None
    loss_n: NDArray[np.int64] | None = None
    log_loss_sum: F64 | None = None
    brier_sum: F64 | None = None
    pos_label: Label = 1
    # what several metrics of one batch share (float confusion counts, totals, per-class rates), computed
    # once: a read derives ~20 confusion metrics from the same counts
    _shared: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        k = len(self.labels)
        if k == 0 or len(set(self.labels)) != k:
            raise ValueError(f"ClassificationBatch needs distinct labels, got {self.labels}")
        if self.confusion is not None:
            c = np.asarray(self.confusion)
            if c.ndim != 3 or c.shape[1:] != (k, k):
                raise ValueError(f"confusion must have shape (B, {k}, {k}), got {c.shape}")
            if c.size and c.min() < 0:
                raise ValueError("confusion counts must be non-negative")
        if (self.pos_hist is None) != (self.neg_hist is None):
            raise ValueError("pos_hist and neg_hist go together")
        if self.pos_hist is not None and self.neg_hist is not None:
            p, n = np.asarray(self.pos_hist), np.asarray(self.neg_hist)
            if p.ndim != 2 or p.shape != n.shape:
                raise ValueError(
                    f"pos_hist and neg_hist must be (B, bins) of one shape: {p.shape}, {n.shape}"
                )
            if p.size and (p.min() < 0 or n.min() < 0):
                raise ValueError("histogram counts must be non-negative")

    def need_confusion(self, metric: str) -> NDArray[np.float64]:
        """The confusion counts as floats (one array shared by the metrics of this batch: read-only)."""
        if self.confusion is None:
            raise ValueError(f"{metric} needs confusion counts")
        if "m" not in self._shared:
            self._shared["m"] = np.asarray(self.confusion).astype(np.float64)
        m: NDArray[np.float64] = self._shared["m"]
        return m

    def rows(self, metric: str) -> tuple[F64, NDArray[np.bool_]]:
        """`_rows` of the confusion counts, shared."""
        if "rows" not in self._shared:
            self._shared["rows"] = _rows(self.need_confusion(metric))
        out: tuple[F64, NDArray[np.bool_]] = self._shared["rows"]
        return out

    def rates(self, metric: str, rate: str) -> F64:
        """`per_class_batch` of the confusion counts, shared per rate."""
        key = f"rate:{rate}"
        if key not in self._shared:
            self._shared[key] = per_class_batch(self.need_confusion(metric), rate)
        out: F64 = self._shared[key]
        return out

    @property
    def size(self) -> int:
        for part in (self.confusion, self.pos_hist, self.loss_n):
            if part is not None:
                return len(part)
        raise ValueError("ClassificationBatch holds no aggregates")


def _div(num: F64, den: F64) -> F64:
    """num / den with 0 where den == 0 (sklearn's zero_division=0, as `safe_div`)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _rows(m: F64) -> tuple[F64, NDArray[np.bool_]]:
    """Total per element and a mask of non-empty elements."""
    total = m.sum(axis=(1, 2))
    return total, total > 0


def per_class_batch(m: F64, rate: str) -> F64:
    """(B, k) per-class rates of (B, k, k) float confusion counts (as `classification.per_class`)."""
    tp = np.diagonal(m, axis1=1, axis2=2)
    fp = m.sum(axis=1) - tp
    fn = m.sum(axis=2) - tp
    tn = m.sum(axis=(1, 2))[:, None] - tp - fp - fn
    if rate == "precision":
        return _div(tp, tp + fp)
    if rate == "recall":
        return _div(tp, tp + fn)
    if rate == "f1":
        return _div(2 * tp, 2 * tp + fp + fn)
    return _div(tn, tn + fp)


def _masked(values: F64, ok: NDArray[np.bool_]) -> F64:
    return np.where(ok, values, NAN)


def _value(name: str, values: F64, **kw: object) -> BatchValues:
    return BatchValues(name, values, np.zeros_like(values), **kw)  # type: ignore[arg-type]


def accuracy_batch(b: ClassificationBatch) -> BatchValues:
    m = b.need_confusion("accuracy")
    total, ok = b.rows("accuracy")
    trace = np.trace(m, axis1=1, axis2=2)
    return _value("accuracy", _masked(_div(trace, total), ok), labels=b.labels)


def balanced_accuracy_batch(b: ClassificationBatch) -> BatchValues:
    m = b.need_confusion("balanced_accuracy")
    _, ok = b.rows("balanced_accuracy")
    recall = b.rates("balanced_accuracy", "recall")
    present = m.sum(axis=2) > 0
    values = _div(np.where(present, recall, 0.0).sum(axis=1), present.sum(axis=1).astype(np.float64))
    return _value("balanced_accuracy", _masked(values, ok), labels=b.labels)


def _per_class_metric(rate: str) -> Callable[[ClassificationBatch], BatchValues]:
    name = f"{rate}_per_class"

    def compute(b: ClassificationBatch) -> BatchValues:
        _, ok = b.rows(name)
        pc = _masked(b.rates(name, rate), ok[:, None])
        return _value(name, pc.mean(axis=1), labels=b.labels, per_class=pc)

    return compute


def _averaged(rate: str, average: str) -> Callable[[ClassificationBatch], BatchValues]:
    name = f"{rate}_{average}"

    def compute(b: ClassificationBatch) -> BatchValues:
        m = b.need_confusion(name)
        total, ok = b.rows(name)
        if average == "macro":
            values = b.rates(name, rate).mean(axis=1)
        elif average == "weighted":
            support = m.sum(axis=2)
            values = _div((b.rates(name, rate) * support).sum(axis=1), support.sum(axis=1))
        elif rate == "specificity":  # pooled one-vs-rest, as `classification.micro_average`
            tp = np.trace(m, axis1=1, axis2=2)
            tn = (m.shape[1] - 2) * total + tp
            values = _div(tn, tn + total - tp)
        else:
            values = _div(np.trace(m, axis1=1, axis2=2), total)
        return _value(name, _masked(values, ok), labels=b.labels)

    return compute


def _binary(rate: str) -> Callable[[ClassificationBatch], BatchValues]:
    def compute(b: ClassificationBatch) -> BatchValues:
        if len(b.labels) != 2 or b.pos_label not in b.labels:
            raise ValueError(f"{rate} needs two labels including pos_label {b.pos_label!r}: {b.labels}")
        _, ok = b.rows(rate)
        values = b.rates(rate, rate)[:, b.labels.index(b.pos_label)]
        return _value(rate, _masked(values, ok), labels=b.labels)

    return compute


def roc_auc_batch(b: ClassificationBatch) -> BatchValues:
    """ROC AUC from score histograms with the bound of `scores.roc_auc_histogram`: the midpoint of the
    interval that within-bin orders admit, bound half its width; NaN where a class is missing."""
    if b.pos_hist is None or b.neg_hist is None:
        raise ValueError("roc_auc needs score histograms")
    pos = np.asarray(b.pos_hist, dtype=np.float64)
    neg = np.asarray(b.neg_hist, dtype=np.float64)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    ok = (n_pos > 0) & (n_neg > 0)
    neg_below = np.cumsum(neg, axis=1) - neg
    ordered = (pos * neg_below).sum(axis=1)
    same_bin = (pos * neg).sum(axis=1)
    pairs = np.where(ok, n_pos * n_neg, 1.0)
    lo, hi = ordered / pairs, (ordered + same_bin) / pairs
    return BatchValues("roc_auc", _masked((lo + hi) / 2.0, ok), np.where(ok, (hi - lo) / 2.0, 0.0))


def _histograms(b: ClassificationBatch, name: str) -> tuple[F64, F64]:
    if b.pos_hist is None or b.neg_hist is None:
        raise ValueError(f"{name} needs score histograms")
    return np.asarray(b.pos_hist, dtype=np.float64), np.asarray(b.neg_hist, dtype=np.float64)


_HARMONIC_TABLE_MAX = 1 << 22


def _harmonic(n: F64) -> Callable[[F64], F64]:
    """x ↦ ψ(x + 1) for whole non-negative `x` (as floats) up to max(`n`), up to the constant -γ (it cancels in
    the differences taken here): the harmonic number H(x) from a table (int32 lookups: the table is at most
    2²² long), or digamma beyond the table's size."""
    top = float(n.max()) if n.size else 0.0
    if top > _HARMONIC_TABLE_MAX:
        return lambda x: np.asarray(digamma(x + 1) + np.euler_gamma, dtype=np.float64)
    table = np.zeros(int(top) + 1)
    np.cumsum(1.0 / np.arange(1, int(top) + 1), out=table[1:])
    return lambda x: table.take(x.astype(np.int32))


def average_precision_batch(b: ClassificationBatch) -> BatchValues:
    """Average precision from score histograms with the bound of `scores.average_precision_histogram`
    (best and worst order of the rows inside each bin); NaN where an element has no positives."""
    pos, neg = _histograms(b, "average_precision")
    n_pos = pos.sum(axis=1)
    ok = n_pos > 0
    p, q = np.ascontiguousarray(pos[:, ::-1]), np.ascontiguousarray(neg[:, ::-1])  # descending scores
    above = np.zeros((p.shape[0], p.shape[1] + 1))  # rows ranked above each bin, and above the next one
    np.cumsum(p + q, axis=1, out=above[:, 1:])
    c, den = above[:, :-1], above[:, 1:]
    fp = np.cumsum(q, axis=1)
    fp -= q  # negatives above each bin
    # Σ_{k=1..m} 1/(c+k) = ψ(c+m+1) - ψ(c+1); ψ(n+1) = H(n) - γ for whole n, so for counts a table of
    # harmonic numbers (one cumulative sum) replaces the digamma calls. In place where it can be: each
    # temporary is a (B, bins) array. best = p - fp (ψ(c+p+1) - ψ(c+1)),
    # worst = p - (fp + q) (ψ(c+p+q+1) - ψ(c+q+1))
    psi = _harmonic(den)
    h = psi(above)  # ψ(c + 1) of each bin and, shifted by one, ψ(c + p + q + 1)
    best = psi(c + p)
    best -= h[:, :-1]
    best *= fp
    np.subtract(p, best, out=best)
    fp += q  # negatives above each bin and in it
    worst = psi(c + q)
    np.subtract(h[:, 1:], worst, out=worst)
    worst *= fp
    np.subtract(p, worst, out=worst)
    tied = den - fp  # positives above each bin and in it (tp + p)
    tied *= p
    np.divide(tied, den, out=tied, where=den > 0)  # den = 0: no row above or in the bin, tied is 0 already
    safe = np.where(ok, n_pos, 1.0)
    lo = np.minimum(worst, tied).sum(axis=1) / safe
    hi = np.maximum(best, tied).sum(axis=1) / safe
    return BatchValues("average_precision", _masked((lo + hi) / 2.0, ok), np.where(ok, (hi - lo) / 2.0, 0.0))


def ece_batch(b: ClassificationBatch, n_bins: int = DEFAULT_ECE_BINS) -> BatchValues:
    """Expected calibration error over `n_bins` equal-width bins from score histograms of equal-width bins
    on [0, 1] (their number a multiple of `n_bins`), with the bound of `scores.ece_histogram`: the mean score
    of each calibration bin is only known to lie between its rows' bin edges. NaN where an element is empty."""
    pos, neg = _histograms(b, "ece")
    size, bins = pos.shape
    if bins % n_bins:
        raise ValueError(f"{bins} histogram bins do not refine {n_bins} equal-width calibration bins")
    edges = np.linspace(0.0, 1.0, bins + 1)
    count = pos + neg
    n = count.sum(axis=1)
    ok = n > 0
    per = bins // n_bins
    y_sum = pos.reshape(size, n_bins, per).sum(axis=2)
    s_lo = (count * edges[:-1]).reshape(size, n_bins, per).sum(axis=2)
    s_hi = (count * edges[1:]).reshape(size, n_bins, per).sum(axis=2)
    d_lo, d_hi = np.abs(y_sum - s_lo), np.abs(y_sum - s_hi)
    far = np.maximum(d_lo, d_hi)
    near = np.where((y_sum >= s_lo) & (y_sum <= s_hi), 0.0, np.minimum(d_lo, d_hi))
    safe = np.where(ok, n, 1.0)
    lo, hi = near.sum(axis=1) / safe, far.sum(axis=1) / safe
    return BatchValues("ece", _masked((lo + hi) / 2.0, ok), np.where(ok, (hi - lo) / 2.0, 0.0))


def _loss(name: str) -> Callable[[ClassificationBatch], BatchValues]:
    def compute(b: ClassificationBatch) -> BatchValues:
        total = b.log_loss_sum if name == "log_loss" else b.brier_sum
        if b.loss_n is None or total is None:
            raise ValueError(f"{name} needs loss sums")
        n = np.asarray(b.loss_n, dtype=np.float64)
        ok = n > 0
        return _value(name, _masked(np.asarray(total, dtype=np.float64) / np.where(ok, n, 1.0), ok))

    return compute


CLASSIFICATION_BATCH_METRICS: Registry[Callable[[ClassificationBatch], BatchValues]] = Registry(
    "batch classification metric"
)
CLASSIFICATION_BATCH_METRICS.add("accuracy", accuracy_batch)
CLASSIFICATION_BATCH_METRICS.add("balanced_accuracy", balanced_accuracy_batch)
CLASSIFICATION_BATCH_METRICS.add("roc_auc", roc_auc_batch)
CLASSIFICATION_BATCH_METRICS.add("average_precision", average_precision_batch)
CLASSIFICATION_BATCH_METRICS.add("ece", ece_batch)
for _rate in _RATES:
    CLASSIFICATION_BATCH_METRICS.add(_rate, _binary(_rate))
    CLASSIFICATION_BATCH_METRICS.add(f"{_rate}_per_class", _per_class_metric(_rate))
    for _avg in ("macro", "micro", "weighted"):
        CLASSIFICATION_BATCH_METRICS.add(f"{_rate}_{_avg}", _averaged(_rate, _avg))
for _loss_name in ("log_loss", "brier"):
    CLASSIFICATION_BATCH_METRICS.add(_loss_name, _loss(_loss_name))


def evaluate_classification_batch(names: Sequence[str], batch: ClassificationBatch) -> dict[str, BatchValues]:
    return {name: CLASSIFICATION_BATCH_METRICS.get(name)(batch) for name in names}
