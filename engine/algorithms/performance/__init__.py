"""Model performance: classification and regression metrics from raw arrays or mergeable aggregates,
and label-free estimation (CBPE). Importing the package registers every metric."""

from __future__ import annotations

from engine.algorithms.performance import classification, regression, scores
from engine.algorithms.performance._common import MetricValue
from engine.algorithms.performance.aggregates import (
    ConfusionCounts,
    LogLossBrierSums,
    ScoreHistogram,
)
from engine.algorithms.performance.registry import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    ClassificationAggregates,
    ClassificationData,
    evaluate_classification,
    evaluate_classification_aggregates,
)
from engine.algorithms.performance.regression import evaluate_regression, evaluate_regression_sums
from engine.algorithms.performance.regression_sums import RegressionSums

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "ClassificationAggregates",
    "ClassificationData",
    "ConfusionCounts",
    "LogLossBrierSums",
    "MetricValue",
    "RegressionSums",
    "ScoreHistogram",
    "classification",
    "evaluate_classification",
    "evaluate_classification_aggregates",
    "evaluate_regression",
    "evaluate_regression_sums",
    "regression",
    "scores",
]
