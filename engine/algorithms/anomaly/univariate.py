"""Point anomalies in one metric: rolling z-score, IQR (Tukey) fences and MAD (modified z-score)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.algorithms.anomaly.base import AnomalyResult, anomaly_method, flags, magnitude, ratio, robust_z

_CHUNK = 65_536  # rows of the sliding-window view reduced at once: bounds memory at n·window floats


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class RollingZScoreParams:
    """z-score of each point against the mean and sample std (ddof=1) of the `window` points before it."""

    window: int = 30
    threshold: float = 3.0

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ValueError("rolling_zscore: window must be >= 2")
        _positive("rolling_zscore: threshold", self.threshold)


@anomaly_method("rolling_zscore", RollingZScoreParams)
def rolling_zscore(values: np.ndarray, params: RollingZScoreParams) -> AnomalyResult:
    """Trailing-window z-score; the current point is excluded from its own window, so a spike does not
    mask itself. The first `window` points have no history and are not scored."""
    n, w = values.size, params.window
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    if n > w:
        windows = sliding_window_view(values, w)[:-1]  # row j = values[j : j + w], scores point j + w
        for start in range(0, windows.shape[0], _CHUNK):
            block = windows[start : start + _CHUNK]
            mean[w + start : w + start + block.shape[0]] = block.mean(axis=1)
            std[w + start : w + start + block.shape[0]] = block.std(axis=1, ddof=1)
    scores = ratio(values - mean, std, scale=magnitude(values))
    return AnomalyResult(
        method="rolling_zscore",
        scores=scores,
        is_anomaly=flags(scores, params.threshold),
        score_threshold=params.threshold,
        lower=mean - params.threshold * std,
        upper=mean + params.threshold * std,
        details={"scored_points": max(n - w, 0)},
    )


@dataclass(frozen=True, slots=True)
class IQRParams:
    """Tukey's fences [Q1 − m·IQR, Q3 + m·IQR]; quartiles by linear interpolation (numpy's default)."""

    multiplier: float = 1.5

    def __post_init__(self) -> None:
        _positive("iqr: multiplier", self.multiplier)


@anomaly_method("iqr", IQRParams)
def iqr(values: np.ndarray, params: IQRParams) -> AnomalyResult:
    """Score = distance beyond the quartile box in IQR units (0 inside the box), so |score| > m is
    exactly "outside Tukey's fences". With IQR = 0 every value off the box scores ±inf."""
    q1, q3 = (float(q) for q in np.percentile(values, [25.0, 75.0]))
    spread = q3 - q1
    beyond = np.where(values > q3, values - q3, np.where(values < q1, values - q1, 0.0))
    scores = ratio(beyond, spread, scale=magnitude(values))
    n = values.size
    return AnomalyResult(
        method="iqr",
        scores=scores,
        is_anomaly=flags(scores, params.multiplier),
        score_threshold=params.multiplier,
        lower=np.full(n, q1 - params.multiplier * spread),
        upper=np.full(n, q3 + params.multiplier * spread),
        details={"q1": q1, "q3": q3, "iqr": spread},
    )


@dataclass(frozen=True, slots=True)
class MADParams:
    """Iglewicz & Hoaglin's modified z-score 0.6745·(x − median)/MAD, flagged above 3.5."""

    threshold: float = 3.5

    def __post_init__(self) -> None:
        _positive("mad: threshold", self.threshold)


@anomaly_method("mad", MADParams)
def mad(values: np.ndarray, params: MADParams) -> AnomalyResult:
    """Median absolute deviation (unscaled, as in scipy's `median_abs_deviation(scale=1)`)."""
    center = float(np.median(values))
    spread = float(np.median(np.abs(values - center)))
    scores = robust_z(values, center, spread, scale=magnitude(values))
    half_width = params.threshold * spread / 0.6745
    n = values.size
    return AnomalyResult(
        method="mad",
        scores=scores,
        is_anomaly=flags(scores, params.threshold),
        score_threshold=params.threshold,
        lower=np.full(n, center - half_width),
        upper=np.full(n, center + half_width),
        details={"median": center, "mad": spread},
    )
