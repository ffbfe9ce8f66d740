"""Degradation vs baseline: thresholds, severities, retraining trigger, direction of lower-is-better metrics."""

from __future__ import annotations

import json

import pytest

from engine.algorithms.degradation import DegradationConfig, assess_degradation, relative_degradation


@pytest.mark.parametrize(
    ("metric", "baseline", "current", "degraded", "severity"),
    [
        ("accuracy", 0.90, 0.86, False, "none"),  # 4.4% < 5%
        ("accuracy", 0.90, 0.855, True, "minor"),  # exactly 5%
        ("accuracy", 0.90, 0.81, True, "moderate"),  # exactly 10%
        ("accuracy", 0.90, 0.72, True, "moderate"),  # exactly 20%
        ("accuracy", 0.90, 0.70, True, "critical"),  # 22%
        ("roc_auc", 0.90, 0.864, True, "minor"),  # 4%: over the 3% AUC threshold
        ("roc_auc", 0.90, 0.875, False, "none"),  # 2.8%
        ("mse", 2.0, 2.1, False, "none"),  # +5% < +10%
        ("mse", 2.0, 2.2, True, "moderate"),  # +10%
        ("mae", 2.0, 1.5, False, "none"),  # improved
        ("f1", 0.5, 0.6, False, "none"),  # improved
    ],
)
def test_thresholds_and_severity(
    metric: str, baseline: float, current: float, degraded: bool, severity: str
) -> None:
    report = assess_degradation({metric: baseline}, {metric: current})
    (m,) = report.metrics
    assert (m.degraded, m.severity) == (degraded, severity)
    assert report.severity == severity


def test_retraining_trigger_at_15_percent() -> None:
    assert not assess_degradation({"accuracy": 1.0}, {"accuracy": 0.86}).retrain
    assert assess_degradation({"accuracy": 1.0}, {"accuracy": 0.85}).retrain
    assert assess_degradation({"mae": 1.0}, {"mae": 1.15}).retrain


def test_lower_is_better_degrades_upward() -> None:
    assert relative_degradation(2.0, 2.5, higher_is_better=False) == pytest.approx(0.25)
    assert relative_degradation(2.0, 1.5, higher_is_better=False) == pytest.approx(-0.25)
    assert relative_degradation(0.8, 0.6, higher_is_better=True) == pytest.approx(0.25)


def test_zero_baseline_and_report_serialises() -> None:
    report = assess_degradation({"mse": 0.0, "accuracy": 0.9, "extra": 1.0}, {"mse": 0.1, "accuracy": 0.9})
    d = report.to_dict()
    json.dumps(d)
    mse = next(m for m in d["metrics"] if m["metric"] == "mse")
    assert mse["relative_degradation"] is None and mse["relative_degradation_infinite"]
    assert report.severity == "critical" and report.unmatched == ("extra",)


def test_config_overrides_and_unknown_metrics() -> None:
    cfg = DegradationConfig(thresholds={"accuracy": 0.01}, higher_is_better={"revenue": True})
    assert assess_degradation({"accuracy": 1.0}, {"accuracy": 0.98}, cfg).metrics[0].severity == "minor"
    assert assess_degradation({"revenue": 100.0}, {"revenue": 70.0}, cfg).severity == "critical"
    with pytest.raises(ValueError, match="direction"):
        assess_degradation({"mystery": 1.0}, {"mystery": 2.0})
    with pytest.raises(ValueError, match="finite"):
        assess_degradation({"accuracy": float("nan")}, {"accuracy": 0.5})
    with pytest.raises(ValueError, match="positive"):
        DegradationConfig(default_threshold=0.0)
    with pytest.raises(ValueError, match="share no metric"):
        assess_degradation({}, {})
