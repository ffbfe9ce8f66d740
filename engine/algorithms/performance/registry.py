"""Registries of performance metrics, their input types, and the functions that evaluate them.

Every metric has two forms that give the same answer: `from_raw` reads arrays, `from_aggregates` reads
mergeable aggregates (confusion counts, score histograms, loss sums, regression sums) as a windows layer
produces them from SQL. Aggregate forms computed from a score histogram are approximate and report a
guaranteed `error_bound`; all others are exact.

>>> from engine.algorithms.performance import ClassificationData, evaluate_classification
>>> res = evaluate_classification(["accuracy", "f1"], ClassificationData([0, 1, 1, 0], y_pred=[0, 1, 0, 0]))
>>> round(res["accuracy"].value, 3), round(res["f1"].value, 3)
(0.75, 0.667)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine.algorithms.performance._common import Label, MetricValue
from engine.algorithms.performance.aggregates import (
    ConfusionCounts,
    LogLossBrierSums,
    ScoreHistogram,
)
from engine.algorithms.performance.regression_sums import RegressionSums
from engine.algorithms.registry import Registry


@dataclass(frozen=True, slots=True)
class ClassificationData:
    """Raw classification inputs. `y_score` is P(pos_label) (1-D) or per-class probabilities (2-D,
    columns in `labels` order). `labels` defaults to the sorted labels present."""

    y_true: ArrayLike
    y_pred: ArrayLike | None = None
    y_score: ArrayLike | None = None
    labels: tuple[Label, ...] | None = None
    pos_label: Label = 1

    def need_pred(self, metric: str) -> ArrayLike:
        if self.y_pred is None:
            raise ValueError(f"{metric} needs y_pred (predicted labels)")
        return self.y_pred

    def need_score(self, metric: str) -> ArrayLike:
        if self.y_score is None:
            raise ValueError(f"{metric} needs y_score (predicted probabilities)")
        return self.y_score


@dataclass(frozen=True, slots=True)
class ClassificationAggregates:
    """Aggregated classification inputs; each metric reads the part it needs."""

    confusion: ConfusionCounts | None = None
    histogram: ScoreHistogram | None = None
    sums: LogLossBrierSums | None = None
    pos_label: Label = 1

    def need_confusion(self, metric: str) -> ConfusionCounts:
        if self.confusion is None:
            raise ValueError(f"{metric} needs ConfusionCounts")
        return self.confusion

    def need_histogram(self, metric: str) -> ScoreHistogram:
        if self.histogram is None:
            raise ValueError(f"{metric} needs a ScoreHistogram")
        return self.histogram


@dataclass(frozen=True, slots=True)
class ClassificationMetric:
    name: str
    higher_is_better: bool
    lower: float | None
    upper: float | None
    from_raw: Callable[[ClassificationData], MetricValue]
    from_aggregates: Callable[[ClassificationAggregates], MetricValue]


@dataclass(frozen=True, slots=True)
class RegressionMetric:
    name: str
    higher_is_better: bool
    lower: float | None
    upper: float | None
    from_raw: Callable[[NDArray[np.float64], NDArray[np.float64]], MetricValue]
    # None: no exact form from sums (e.g. a median); calling `evaluate_regression_sums` raises ValueError.
    from_sums: Callable[[RegressionSums], MetricValue] | None


CLASSIFICATION_METRICS: Registry[ClassificationMetric] = Registry("classification metric")
REGRESSION_METRICS: Registry[RegressionMetric] = Registry("regression metric")


def evaluate_classification(names: Sequence[str], data: ClassificationData) -> dict[str, MetricValue]:
    return {name: CLASSIFICATION_METRICS.get(name).from_raw(data) for name in names}


def evaluate_classification_aggregates(
    names: Sequence[str], aggregates: ClassificationAggregates
) -> dict[str, MetricValue]:
    return {name: CLASSIFICATION_METRICS.get(name).from_aggregates(aggregates) for name in names}


def metric_higher_is_better(name: str) -> bool | None:
    """Direction of a registered metric, or None for a name neither registry knows."""
    for registry in (CLASSIFICATION_METRICS, REGRESSION_METRICS):
        if name in registry:
            return registry.get(name).higher_is_better
    return None
