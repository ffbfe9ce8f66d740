"""Detectors fitted on a reference part of a series and scoring the rest (the library's methods fit and score
the same points; a monitor wants "is today unusual against last week").

`score_on_reference(method, reference, current, threshold)`:
- `zscore`: (x − mean) / std (ddof = 1) of the reference, flagged above `threshold` (3).
- `iqr`: the reference's Tukey fences [Q1 − m·IQR, Q3 + m·IQR] (m = 1.5), scored as `univariate.iqr` does.
- `mad`: the modified z-score 0.6745·(x − median)/MAD of the reference (3.5).
- `ewma`: the EWMA chart of the current points with the reference's mean and std as target and sigma (L = 3).
- `seasonal`: the reference's per-phase medians (period given, or detected on the reference) as the
  expected value; residuals scored by the modified z-score of the reference's residuals (3.5).
Scores and bands use the library's conventions (`base.ratio`, `base.robust_z`, `base.flags`).

>>> r = score_on_reference("zscore", np.array([1.0, 2.0, 3.0]), np.array([2.0, 9.0]))
>>> r.is_anomaly.tolist(), r.scores.tolist()
([False, True], [0.0, 7.0])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.algorithms.anomaly.base import AnomalyResult, detect, flags, magnitude, ratio, robust_z
from engine.algorithms.anomaly.ewma import EWMAParams
from engine.algorithms.anomaly.seasonal import detect_period
from engine.algorithms.registry import Registry

Scorer = Callable[[np.ndarray, np.ndarray, float | None, int | None], AnomalyResult]
REFERENCE_METHODS: Registry[Scorer] = Registry("reference anomaly method")
DEFAULT_THRESHOLDS = {"zscore": 3.0, "iqr": 1.5, "mad": 3.5, "ewma": 3.0, "seasonal": 3.5}


def _zscore(ref: np.ndarray, cur: np.ndarray, threshold: float | None, _: int | None) -> AnomalyResult:
    t = threshold or DEFAULT_THRESHOLDS["zscore"]
    mean, std = float(np.mean(ref)), float(np.std(ref, ddof=1))
    scores = ratio(cur - mean, std, scale=magnitude(ref))
    n = cur.size
    return AnomalyResult("zscore", scores, flags(scores, t), t, np.full(n, mean - t * std), np.full(n, mean + t * std),
                         details={"mean": mean, "std": std})


def _iqr(ref: np.ndarray, cur: np.ndarray, threshold: float | None, _: int | None) -> AnomalyResult:
    m = threshold or DEFAULT_THRESHOLDS["iqr"]
    q1, q3 = (float(q) for q in np.percentile(ref, [25.0, 75.0]))
    spread = q3 - q1
    beyond = np.where(cur > q3, cur - q3, np.where(cur < q1, cur - q1, 0.0))
    scores = ratio(beyond, spread, scale=magnitude(ref))
    n = cur.size
    return AnomalyResult("iqr", scores, flags(scores, m), m, np.full(n, q1 - m * spread), np.full(n, q3 + m * spread),
                         details={"q1": q1, "q3": q3, "iqr": spread})


def _mad(ref: np.ndarray, cur: np.ndarray, threshold: float | None, _: int | None) -> AnomalyResult:
    t = threshold or DEFAULT_THRESHOLDS["mad"]
    center = float(np.median(ref))
    spread = float(np.median(np.abs(ref - center)))
    scores = robust_z(cur, center, spread, scale=magnitude(ref))
    half = t * spread / 0.6745
    n = cur.size
    return AnomalyResult("mad", scores, flags(scores, t), t, np.full(n, center - half), np.full(n, center + half),
                         details={"median": center, "mad": spread})


def _ewma(ref: np.ndarray, cur: np.ndarray, threshold: float | None, _: int | None) -> AnomalyResult:
    params = EWMAParams(L=threshold or DEFAULT_THRESHOLDS["ewma"], target_mean=float(np.mean(ref)),
                       sigma=float(np.std(ref, ddof=1)))
    return detect("ewma", cur, params)


def _seasonal(ref: np.ndarray, cur: np.ndarray, threshold: float | None, period: int | None) -> AnomalyResult:
    t = threshold or DEFAULT_THRESHOLDS["seasonal"]
    p = period or detect_period(ref) or 1
    if ref.size < 2 * p:
        raise ValueError(f"seasonal: the reference needs two cycles (2 × period {p} points), got {ref.size}")
    profile = np.array([np.median(ref[i::p]) for i in range(p)])
    expected_ref = np.resize(profile, ref.size)
    expected = profile[(np.arange(cur.size) + ref.size) % p]
    resid_ref = ref - expected_ref
    center = float(np.median(resid_ref))
    spread = float(np.median(np.abs(resid_ref - center)))
    scores = robust_z(cur - expected, center, spread, scale=magnitude(ref))
    half = t * spread / 0.6745
    return AnomalyResult("seasonal", scores, flags(scores, t), t, expected + center - half, expected + center + half,
                         details={"period": p, "period_detected": period is None, "residual_median": center,
                                  "residual_mad": spread})


for _name, _fn in (("zscore", _zscore), ("iqr", _iqr), ("mad", _mad), ("ewma", _ewma), ("seasonal", _seasonal)):
    REFERENCE_METHODS.add(_name, _fn)


def score_on_reference(
    method: str, reference: np.ndarray, current: np.ndarray, threshold: float | None = None, period: int | None = None
) -> AnomalyResult:
    """Fit `method` on `reference` (finite values, at least 2) and score `current`."""
    fn = REFERENCE_METHODS.get(method)
    ref, cur = np.asarray(reference, dtype=np.float64), np.asarray(current, dtype=np.float64)
    if ref.size < 2 or not np.isfinite(ref).all() or not np.isfinite(cur).all():
        raise ValueError(f"{method}: needs at least 2 finite reference values and finite current values")
    if threshold is not None and not threshold > 0:
        raise ValueError(f"{method}: threshold must be > 0")
    return fn(ref, cur, threshold, period)
