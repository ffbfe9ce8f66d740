"""Drift method registry, the statistic a method computes and the result a decision makes of it.

A `DriftMethod` is a pure function ``(reference, current) -> Statistic`` plus what it is: the feature
type it applies to, whether it is a hypothesis *test* (decide on the p-value) or a *distance*
(decide on the statistic), its default threshold, and whether it accepts binned counts. `detect`
applies a threshold strategy and returns a `DriftResult`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from engine.algorithms.drift.thresholds import Decision, FixedThreshold, Kind, ThresholdStrategy
from engine.algorithms.registry import Registry

FeatureType = Literal["numeric", "categorical"]


class BinnedInputNotSupported(ValueError):
    """The statistic needs raw samples; binned counts were given."""


def json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars/arrays unwrapped, NaN and inf mapped to None."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class Statistic:
    """What a method measured, before any threshold."""

    value: float
    p_value: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriftResult:
    method: str
    statistic: float
    p_value: float | None
    threshold: float | None
    drift_detected: bool
    kind: Kind
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "statistic": json_safe(self.statistic),
            "p_value": json_safe(self.p_value),
            "threshold": json_safe(self.threshold),
            "drift_detected": bool(self.drift_detected),
            "kind": self.kind,
            "details": json_safe(self.details),
        }


Compute = Callable[[Any, Any], Statistic]


@dataclass(frozen=True, slots=True)
class DriftMethod:
    name: str
    feature_type: FeatureType
    kind: Kind
    default_threshold: float | None
    compute: Compute
    accepts_binned: bool
    description: str

    def result(self, stat: Statistic, decision: Decision) -> DriftResult:
        details = dict(stat.details)
        details["rule"] = decision.rule
        if decision.lower is not None:
            details["lower_threshold"] = decision.lower
        if decision.alpha is not None:
            details["alpha"] = decision.alpha
        return DriftResult(
            self.name,
            stat.value,
            stat.p_value,
            decision.threshold,
            decision.drift_detected,
            self.kind,
            details,
        )


DRIFT_METHODS: Registry[DriftMethod] = Registry("drift method")


def register(
    name: str,
    feature_type: FeatureType,
    kind: Kind,
    default_threshold: float | None,
    accepts_binned: bool,
) -> Callable[[Compute], Compute]:
    """Register the decorated ``(reference, current) -> Statistic`` function as a drift method."""

    def decorate(fn: Compute) -> Compute:
        doc = (fn.__doc__ or "").strip().splitlines()
        DRIFT_METHODS.add(
            name,
            DriftMethod(
                name, feature_type, kind, default_threshold, fn, accepts_binned, doc[0] if doc else ""
            ),
        )
        return fn

    return decorate


def detect(
    method: str, reference: Any, current: Any, threshold: ThresholdStrategy | float | None = None
) -> DriftResult:
    """Compute ``method`` on the pair and decide with ``threshold`` (default: the method's own)."""
    spec = DRIFT_METHODS.get(method)
    stat = spec.compute(reference, current)
    strategy: ThresholdStrategy | None
    if threshold is None:
        strategy = None if spec.default_threshold is None else FixedThreshold(spec.default_threshold)
    elif isinstance(threshold, int | float):
        strategy = FixedThreshold(float(threshold))
    else:
        strategy = threshold
    if strategy is None:
        decision = Decision(None, False, "no default threshold: pass one or calibrate from reference windows")
    else:
        decision = strategy.decide(stat.value, stat.p_value, spec.kind)
    return spec.result(stat, decision)
