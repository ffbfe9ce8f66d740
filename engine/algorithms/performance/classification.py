"""Classification metrics computed from confusion counts.

Raw labels are first counted into `ConfusionCounts`, so the raw and aggregate forms share one code path.

Zero-division convention (as sklearn's `zero_division=0`): a ratio whose denominator is zero is 0.0 —
precision of a class never predicted, recall of a class with no actual rows, F1 when TP = FP = FN = 0,
specificity of a class with no actual negatives. Balanced accuracy averages recall over the classes that
occur in the actual labels (as sklearn). Binary metrics (`precision`, `recall`, `f1`, `specificity`)
read the class `pos_label` (default 1); a table without it (a window where it never occurs) counts it as
zero. `*_micro` averages pool counts over all labels (for single-label data: accuracy).

>>> cc = ConfusionCounts.from_labels([0, 0, 1, 1, 2], [0, 1, 1, 1, 0])
>>> round(macro_average(cc, "recall"), 4)
0.5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from engine.algorithms.performance._common import Label, MetricValue, safe_div
from engine.algorithms.performance.aggregates import ConfusionCounts
from engine.algorithms.performance.registry import (
    CLASSIFICATION_METRICS,
    ClassificationAggregates,
    ClassificationData,
    ClassificationMetric,
)

Rate = Literal["precision", "recall", "f1", "specificity"]


def _nonempty(cc: ConfusionCounts) -> NDArray[np.int64]:
    m = cc.array
    if m.sum() == 0:
        raise ValueError("confusion counts are empty (no rows)")
    return m


def per_class(cc: ConfusionCounts, rate: Rate) -> NDArray[np.float64]:
    m = _nonempty(cc).astype(np.float64)
    tp = np.diag(m)
    fp = m.sum(axis=0) - tp
    fn = m.sum(axis=1) - tp
    tn = m.sum() - tp - fp - fn
    if rate == "precision":
        return safe_div(tp, tp + fp)
    if rate == "recall":
        return safe_div(tp, tp + fn)
    if rate == "f1":
        return safe_div(2 * tp, 2 * tp + fp + fn)
    return safe_div(tn, tn + fp)


def macro_average(cc: ConfusionCounts, rate: Rate) -> float:
    return float(per_class(cc, rate).mean())


def weighted_average(cc: ConfusionCounts, rate: Rate) -> float:
    support = cc.array.sum(axis=1).astype(np.float64)
    return float(safe_div(float((per_class(cc, rate) * support).sum()), float(support.sum())))


def micro_average(cc: ConfusionCounts, rate: Rate) -> float:
    m = _nonempty(cc).astype(np.float64)
    tp = float(np.trace(m))
    total = float(m.sum())
    if rate == "specificity":
        # pooled one-vs-rest: TN summed over classes is (k - 2)·n + TP, FP summed is n - TP
        k = m.shape[0]
        tn = (k - 2) * total + tp
        return float(safe_div(tn, tn + total - tp))
    return tp / total  # pooled FP and FN both equal n - TP


def binary_rate(cc: ConfusionCounts, rate: Rate, pos_label: Label) -> float:
    if pos_label not in cc.labels:
        if len(cc.labels) >= 2:
            raise ValueError(f"pos_label {pos_label!r} is not one of the labels {list(cc.labels)}")
        cc = cc.with_labels((*cc.labels, pos_label))
    if len(cc.labels) > 2:
        raise ValueError(f"binary metric on {len(cc.labels)} labels; use the _macro/_micro/_weighted form")
    return float(per_class(cc, rate)[cc.labels.index(pos_label)])


def accuracy(cc: ConfusionCounts) -> float:
    m = _nonempty(cc)
    return float(np.trace(m) / m.sum())


def balanced_accuracy(cc: ConfusionCounts) -> float:
    support = cc.array.sum(axis=1)
    return float(per_class(cc, "recall")[support > 0].mean())


CountFn = Callable[[ConfusionCounts, Label], MetricValue]


def _register(name: str, fn: CountFn, *, higher_is_better: bool = True, upper: float | None = 1.0) -> None:
    def from_raw(data: ClassificationData) -> MetricValue:
        cc = ConfusionCounts.from_labels(data.y_true, data.need_pred(name), data.labels)
        return fn(cc, data.pos_label)

    def from_aggregates(agg: ClassificationAggregates) -> MetricValue:
        return fn(agg.need_confusion(name), agg.pos_label)

    lower = 0.0
    CLASSIFICATION_METRICS.add(
        name, ClassificationMetric(name, higher_is_better, lower, upper, from_raw, from_aggregates)
    )


def _scalar(name: str, compute: Callable[[ConfusionCounts], float]) -> CountFn:
    return lambda cc, _pos: MetricValue(name, compute(cc), cc.n, labels=cc.labels)


def _binary(name: str, rate: Rate) -> CountFn:
    return lambda cc, pos: MetricValue(name, binary_rate(cc, rate, pos), cc.n, labels=cc.labels)


def _per_class(name: str, rate: Rate) -> CountFn:
    def compute(cc: ConfusionCounts, _pos: Label) -> MetricValue:
        values = per_class(cc, rate)
        return MetricValue(
            name, float(values.mean()), cc.n, labels=cc.labels, per_class=tuple(values.tolist())
        )

    return compute


def _confusion_matrix(cc: ConfusionCounts, _pos: Label) -> MetricValue:
    m = _nonempty(cc)
    return MetricValue(
        "confusion_matrix", float(np.trace(m) / m.sum()), cc.n, labels=cc.labels, matrix=cc.matrix
    )


_register("accuracy", _scalar("accuracy", accuracy))
_register("balanced_accuracy", _scalar("balanced_accuracy", balanced_accuracy))
_register("confusion_matrix", _confusion_matrix)
_RATES: tuple[Rate, ...] = ("precision", "recall", "f1", "specificity")
_AVERAGES: dict[str, Callable[[ConfusionCounts, Rate], float]] = {
    "macro": macro_average,
    "micro": micro_average,
    "weighted": weighted_average,
}


def _averaged(
    average: Callable[[ConfusionCounts, Rate], float], rate: Rate
) -> Callable[[ConfusionCounts], float]:
    return lambda cc: average(cc, rate)


for _rate in _RATES:
    _register(_rate, _binary(_rate, _rate))
    _register(f"{_rate}_per_class", _per_class(f"{_rate}_per_class", _rate))
    for _avg, _fn in _AVERAGES.items():
        _register(f"{_rate}_{_avg}", _scalar(f"{_rate}_{_avg}", _averaged(_fn, _rate)))
