"""Anomalies in metric time series: rolling z-score, IQR, MAD, EWMA, seasonal residuals (univariate);
isolation forest and LOF over windows of several metrics (multivariate).

Importing the package registers every method in `ANOMALY_DETECTORS`; `detect(name, values, params)`
is the front door (see `base`).
"""

from __future__ import annotations

from engine.algorithms.anomaly import ewma, multivariate, seasonal, univariate
from engine.algorithms.anomaly.base import ANOMALY_DETECTORS, AnomalyMethod, AnomalyResult, detect

__all__ = [
    "ANOMALY_DETECTORS",
    "AnomalyMethod",
    "AnomalyResult",
    "detect",
    "ewma",
    "multivariate",
    "seasonal",
    "univariate",
]
