"""EWMA control chart (Roberts 1959; Montgomery, *Statistical Quality Control*, §9.2).

z_t = λ·x_t + (1 − λ)·z_{t−1}, z_{−1} = μ0, with time-varying control limits

    μ0 ± L·σ·sqrt(λ/(2 − λ) · (1 − (1 − λ)^{2(t+1)}))

μ0 and σ are given, or estimated (mean, sample std) from the first `reference_size` points. The
defaults λ = 0.2, L = 3 are the textbook pair (in-control ARL ≈ 560 with known parameters); the
reference defaults to 100 points because limits from a short reference raise false alarms (an
estimated mean from 30 points has a standard error of 0.18σ, which is 0.55 σ_z at λ = 0.2).
Score = (z_t − μ0) / (σ_z at t), so |score| > L is "outside the control limits".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from engine.algorithms.anomaly.base import AnomalyResult, anomaly_method, flags, magnitude, ratio


@dataclass(frozen=True, slots=True)
class EWMAParams:
    lam: float = 0.2
    L: float = 3.0
    reference_size: int = 100
    target_mean: float | None = None
    sigma: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.lam <= 1:
            raise ValueError("ewma: lam (λ) must be in (0, 1]")
        if not (self.L > 0 and math.isfinite(self.L)):
            raise ValueError("ewma: L must be a finite number > 0")
        if self.reference_size < 2 and (self.target_mean is None or self.sigma is None):
            raise ValueError("ewma: reference_size must be >= 2 to estimate the mean and sigma")
        if self.sigma is not None and not (self.sigma >= 0 and math.isfinite(self.sigma)):
            raise ValueError("ewma: sigma must be a finite number >= 0")
        if self.target_mean is not None and not math.isfinite(self.target_mean):
            raise ValueError("ewma: target_mean must be finite")


@anomaly_method("ewma", EWMAParams)
def ewma(values: np.ndarray, params: EWMAParams) -> AnomalyResult:
    n, lam = values.size, params.lam
    estimating = params.target_mean is None or params.sigma is None
    if estimating and n < params.reference_size:
        raise ValueError(
            f"ewma: needs at least reference_size={params.reference_size} points to estimate the "
            f"reference mean and sigma, got {n}; pass target_mean and sigma or lower reference_size"
        )
    reference = values[: params.reference_size]
    mean = float(np.mean(reference)) if params.target_mean is None else params.target_mean
    sigma = float(np.std(reference, ddof=1)) if params.sigma is None else params.sigma
    # z_t = λ x_t + (1 − λ) z_{t−1} with z_{−1} = μ0 is a first-order IIR filter.
    statistic, _ = lfilter([lam], [1.0, -(1.0 - lam)], values, zi=[(1.0 - lam) * mean])
    steps = np.arange(1, n + 1, dtype=float)
    sigma_z = sigma * np.sqrt(lam / (2.0 - lam) * (1.0 - (1.0 - lam) ** (2.0 * steps)))
    scores = ratio(statistic - mean, sigma_z, scale=magnitude(values))
    return AnomalyResult(
        method="ewma",
        scores=scores,
        is_anomaly=flags(scores, params.L),
        score_threshold=params.L,
        lower=mean - params.L * sigma_z,
        upper=mean + params.L * sigma_z,
        details={"target_mean": mean, "sigma": sigma, "ewma": [float(v) for v in statistic]},
    )
