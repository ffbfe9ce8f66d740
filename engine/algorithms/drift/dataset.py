"""Drift of every feature of a dataset, with false-discovery-rate control across features.

Each feature is judged by its own method (default: ``auto_numeric`` / ``auto_categorical``, see
`auto`); the p-value-based decisions are then re-decided with Benjamini–Hochberg across all features
(`multiple_testing`). The dataset is drifted when at least ``drift_share`` of the features drifted
(0.5, as in Evidently's DataDriftPreset).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.algorithms.drift.method import DRIFT_METHODS, DriftResult, FeatureType, detect
from engine.algorithms.drift.multiple_testing import apply_fdr
from engine.algorithms.drift.thresholds import ThresholdStrategy

AUTO_METHOD: dict[FeatureType, str] = {"numeric": "auto_numeric", "categorical": "auto_categorical"}


@dataclass(frozen=True, slots=True)
class DatasetDriftResult:
    features: Mapping[str, DriftResult]
    n_drifted: int
    share_drifted: float
    dataset_drift: bool
    drift_share: float
    fdr_controlled: bool
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": {name: r.to_dict() for name, r in self.features.items()},
            "n_drifted": self.n_drifted,
            "share_drifted": self.share_drifted,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "fdr_controlled": self.fdr_controlled,
        }


def dataset_drift(
    reference: Mapping[str, Any],
    current: Mapping[str, Any],
    feature_types: Mapping[str, FeatureType],
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, ThresholdStrategy | float] | None = None,
    fdr: bool = True,
    drift_share: float = 0.5,
) -> DatasetDriftResult:
    """Per-feature drift of ``current`` against ``reference`` (raw columns or binned counts)."""
    if not feature_types:
        raise ValueError("no features given")
    if not 0 < drift_share <= 1:
        raise ValueError(f"drift_share must lie in (0, 1], got {drift_share}")
    absent = [name for name in feature_types if name not in reference or name not in current]
    if absent:
        raise ValueError(f"features missing from reference or current: {', '.join(sorted(absent))}")
    methods = methods or {}
    thresholds = thresholds or {}
    results: dict[str, DriftResult] = {}
    for name, ftype in feature_types.items():
        method = methods.get(name, AUTO_METHOD[ftype])
        if DRIFT_METHODS.get(method).feature_type != ftype:
            raise ValueError(f"method {method!r} does not apply to {ftype} feature {name!r}")
        results[name] = detect(method, reference[name], current[name], thresholds.get(name))
    if fdr:
        results = apply_fdr(results)
    n_drifted = sum(r.drift_detected for r in results.values())
    share = n_drifted / len(results)
    return DatasetDriftResult(results, n_drifted, share, share >= drift_share, drift_share, fdr)
