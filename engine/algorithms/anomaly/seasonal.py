"""Anomalies as large residuals of a classical additive decomposition (trend + seasonal + residual).

The decomposition is the classical one (statsmodels' `seasonal_decompose(model="additive")`, which
the tests use as the oracle), written with numpy so statsmodels stays a dev dependency:

- trend: centred moving average over one period (a 2×m average when the period m is even);
- seasonal: per-phase mean of the detrended series, centred to sum to zero over a period;
- residual: observed − trend − seasonal, scored by the modified z-score (median/MAD of residuals).

The centred average leaves period//2 points at each end without a trend. By default the trend is
extrapolated there by least squares over the nearest `period` trend values (statsmodels'
`extrapolate_trend="period"`), so the most recent points — the ones a monitor cares about — are
scored; with `extrapolate_trend=False` they are left unscored (NaN).

When `period` is None it is taken as the lag, between 2 and n//2, of the highest local maximum of
the autocorrelation of the linearly detrended series, if that autocorrelation reaches
`min_autocorrelation`. Without a detectable period the seasonal component is zero and the trend is a
centred moving average over `fallback_window` points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.algorithms.anomaly.base import AnomalyResult, anomaly_method, flags, magnitude, robust_z


@dataclass(frozen=True, slots=True)
class SeasonalParams:
    period: int | None = None
    threshold: float = 3.5
    extrapolate_trend: bool = True
    min_autocorrelation: float = 0.3
    fallback_window: int = 7

    def __post_init__(self) -> None:
        if self.period is not None and self.period < 2:
            raise ValueError("seasonal: period must be >= 2 (or None to detect it)")
        if not (self.threshold > 0 and math.isfinite(self.threshold)):
            raise ValueError("seasonal: threshold must be a finite number > 0")
        if not 0 < self.min_autocorrelation < 1:
            raise ValueError("seasonal: min_autocorrelation must be in (0, 1)")
        if self.fallback_window < 2:
            raise ValueError("seasonal: fallback_window must be >= 2")


def detect_period(values: np.ndarray, min_autocorrelation: float = 0.3) -> int | None:
    """Dominant seasonal period by autocorrelation, or None when no lag reaches `min_autocorrelation`."""
    n = values.size
    if n < 6:
        return None
    t = np.arange(n, dtype=float)
    slope, intercept = np.polyfit(t, values, 1)
    x = values - (slope * t + intercept)
    denom = float(np.dot(x, x))
    if denom == 0.0:
        return None
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(x, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: n // 2 + 2] / denom
    lags = np.arange(2, n // 2 + 1)
    peaks = lags[(acf[lags] > acf[lags - 1]) & (acf[lags] >= acf[lags + 1])]
    if peaks.size == 0:
        return None
    best = int(peaks[np.argmax(acf[peaks])])
    return best if acf[best] >= min_autocorrelation else None


def centred_moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average, NaN where the window does not fit; even windows use half weights at
    both ends (the 2×m average), as statsmodels' `seasonal_decompose` does."""
    if window % 2 == 0:
        weights = np.r_[0.5, np.ones(window - 1), 0.5] / window
    else:
        weights = np.full(window, 1.0 / window)
    half = weights.size // 2
    trend = np.full(values.size, np.nan)
    if values.size >= weights.size:
        trend[half : values.size - half] = np.convolve(values, weights, mode="valid")
    return trend


def extrapolate_trend(trend: np.ndarray, npoints: int) -> np.ndarray:
    """Fill the NaN ends of `trend` with straight lines fitted to the `npoints` nearest defined values."""
    defined = np.flatnonzero(~np.isnan(trend))
    if defined.size < 2:
        return trend
    out = trend.copy()
    front, back = int(defined[0]), int(defined[-1])
    ends = (
        (np.arange(front, min(front + npoints, back)), np.arange(0, front)),
        (np.arange(max(front, back - npoints), back), np.arange(back + 1, trend.size)),
    )
    for fit_at, fill_at in ends:
        design = np.c_[fit_at, np.ones(fit_at.size)]
        slope, intercept = np.linalg.lstsq(design, trend[fit_at], rcond=-1)[0]
        out[fill_at] = slope * fill_at + intercept
    return out


def seasonal_component(detrended: np.ndarray, period: int) -> np.ndarray:
    """Per-phase means of the detrended series (phase = index mod period), centred to mean zero."""
    phase_means = np.array([np.nanmean(detrended[i::period]) for i in range(period)])
    phase_means -= phase_means.mean()
    return np.resize(phase_means, detrended.size)


def decompose(
    values: np.ndarray, period: int | None, *, extrapolate: bool, fallback_window: int = 7
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(trend, seasonal, residual) of an additive decomposition; see the module docstring."""
    window = period if period is not None else fallback_window
    if values.size < 2 * window:
        what = f"period {period}" if period is not None else f"fallback_window {window}"
        raise ValueError(
            f"seasonal: needs at least two cycles (2 × {what} = {2 * window} points), got {values.size}"
        )
    trend = centred_moving_average(values, window)
    if extrapolate:
        # statsmodels' extrapolate_trend="period" fits over `period` points (its npoints = period − 1 + 1).
        trend = extrapolate_trend(trend, window)
    detrended = values - trend
    seasonal = seasonal_component(detrended, period) if period is not None else np.zeros_like(values)
    return trend, seasonal, detrended - seasonal


@anomaly_method("seasonal", SeasonalParams)
def seasonal(values: np.ndarray, params: SeasonalParams) -> AnomalyResult:
    period = params.period if params.period is not None else detect_period(values, params.min_autocorrelation)
    trend, season, resid = decompose(
        values, period, extrapolate=params.extrapolate_trend, fallback_window=params.fallback_window
    )
    scored = resid[~np.isnan(resid)]
    center = float(np.median(scored))
    spread = float(np.median(np.abs(scored - center)))
    scores = robust_z(resid, center, spread, scale=magnitude(values))
    fit = trend + season + center
    half_width = params.threshold * spread / 0.6745
    return AnomalyResult(
        method="seasonal",
        scores=scores,
        is_anomaly=flags(scores, params.threshold),
        score_threshold=params.threshold,
        lower=fit - half_width,
        upper=fit + half_width,
        details={
            "period": period,
            "period_detected": params.period is None,
            "residual_median": center,
            "residual_mad": spread,
        },
    )
