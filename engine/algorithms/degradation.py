"""Relative degradation of metrics against a baseline, with severity and a retraining trigger.

Relative degradation is signed so that positive means worse:
(baseline - current) / |baseline| for higher-is-better metrics, (current - baseline) / |baseline| for
lower-is-better ones (MSE, MAE, log loss: they degrade upward). Direction comes from the config, else
from the performance registries. A baseline of 0 gives +inf when the metric got worse (0 otherwise).

A metric is degraded when its relative degradation reaches its threshold (defaults: accuracy, F1,
precision, recall 5%; ROC AUC 3%; MSE, MAE +10%; others `default_threshold`). Severity of a degraded
metric: minor below 10%, moderate from 10% to 20% inclusive, critical above 20%; not degraded → none
(so a 4% AUC drop is degraded and minor). Retraining is recommended when any metric degrades by 15% or
more. Comparisons allow 1e-12 of floating-point slack, so 0.9 → 0.855 counts as exactly 5%.

>>> report = assess_degradation({"accuracy": 0.90, "mse": 2.0}, {"accuracy": 0.80, "mse": 2.1})
>>> [(m.metric, m.severity) for m in report.metrics], report.retrain
([('accuracy', 'moderate'), ('mse', 'none')], False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from engine.algorithms.performance.registry import metric_higher_is_better

Severity = Literal["none", "minor", "moderate", "critical"]
_SLACK = 1e-12

DEFAULT_THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {
        "accuracy": 0.05,
        "f1": 0.05,
        "f1_macro": 0.05,
        "precision": 0.05,
        "precision_macro": 0.05,
        "recall": 0.05,
        "recall_macro": 0.05,
        "roc_auc": 0.03,
        "mse": 0.10,
        "mae": 0.10,
    }
)


def _f(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class DegradationConfig:
    thresholds: Mapping[str, float] = field(default_factory=lambda: DEFAULT_THRESHOLDS)
    default_threshold: float = 0.05
    moderate_from: float = 0.10
    critical_above: float = 0.20
    retrain_at: float = 0.15
    # direction overrides for metrics the performance registries do not know (custom metrics)
    higher_is_better: Mapping[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = [*self.thresholds.values(), self.default_threshold, self.retrain_at]
        if any(not (math.isfinite(v) and v > 0) for v in values):
            raise ValueError("degradation thresholds must be positive and finite")
        if not 0 < self.moderate_from <= self.critical_above:
            raise ValueError("need 0 < moderate_from <= critical_above")

    def threshold(self, metric: str) -> float:
        return self.thresholds.get(metric, self.default_threshold)

    def direction(self, metric: str) -> bool:
        if metric in self.higher_is_better:
            return self.higher_is_better[metric]
        known = metric_higher_is_better(metric)
        if known is None:
            raise ValueError(f"direction of metric {metric!r} is unknown; set it in higher_is_better")
        return known


@dataclass(frozen=True, slots=True)
class MetricDegradation:
    metric: str
    baseline: float
    current: float
    relative_degradation: float
    threshold: float
    degraded: bool
    severity: Severity
    retrain: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "baseline": _f(self.baseline),
            "current": _f(self.current),
            "absolute_change": _f(self.current - self.baseline),
            "relative_degradation": _f(self.relative_degradation),
            "relative_degradation_infinite": math.isinf(self.relative_degradation),
            "threshold": self.threshold,
            "degraded": self.degraded,
            "severity": self.severity,
            "retrain": self.retrain,
        }


@dataclass(frozen=True, slots=True)
class DegradationReport:
    metrics: tuple[MetricDegradation, ...]
    severity: Severity
    retrain: bool
    unmatched: tuple[str, ...] = ()  # metrics present in only one of baseline / current

    @property
    def degraded(self) -> bool:
        return any(m.degraded for m in self.metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "retrain": self.retrain,
            "degraded": self.degraded,
            "unmatched": list(self.unmatched),
            "metrics": [m.to_dict() for m in self.metrics],
        }


_ORDER: tuple[Severity, ...] = ("none", "minor", "moderate", "critical")


def relative_degradation(baseline: float, current: float, *, higher_is_better: bool) -> float:
    if not (math.isfinite(baseline) and math.isfinite(current)):
        raise ValueError(f"baseline and current must be finite, got {baseline} and {current}")
    worse_by = baseline - current if higher_is_better else current - baseline
    if baseline == 0:
        return math.inf if worse_by > 0 else 0.0
    return worse_by / abs(baseline)


def severity_of(degradation: float, threshold: float, config: DegradationConfig) -> Severity:
    if degradation < threshold - _SLACK:
        return "none"
    if degradation > config.critical_above + _SLACK:
        return "critical"
    if degradation >= config.moderate_from - _SLACK:
        return "moderate"
    return "minor"


def assess_metric(
    metric: str, baseline: float, current: float, config: DegradationConfig
) -> MetricDegradation:
    d = relative_degradation(float(baseline), float(current), higher_is_better=config.direction(metric))
    threshold = config.threshold(metric)
    severity = severity_of(d, threshold, config)
    return MetricDegradation(
        metric,
        float(baseline),
        float(current),
        d,
        threshold,
        severity != "none",
        severity,
        d >= config.retrain_at - _SLACK,
    )


def assess_degradation(
    baseline: Mapping[str, float], current: Mapping[str, float], config: DegradationConfig | None = None
) -> DegradationReport:
    """Compare every metric present in both mappings (sorted by name); the rest are listed as unmatched."""
    cfg = config or DegradationConfig()
    shared = sorted(set(baseline) & set(current))
    if not shared:
        raise ValueError("baseline and current share no metric")
    results = tuple(assess_metric(m, baseline[m], current[m], cfg) for m in shared)
    worst = max((_ORDER.index(r.severity) for r in results), default=0)
    unmatched = tuple(sorted(set(baseline) ^ set(current)))
    return DegradationReport(results, _ORDER[worst], any(r.retrain for r in results), unmatched)
