"""Quantiles from a fixed log-spaced histogram, with a guaranteed error bound. Pure: no I/O.

The latency histogram has `bins` equal-width bins in log10 over [10^lo, 10^hi) plus an underflow and an
overflow element (TimescaleDB's `histogram()` layout); the exact min and max are kept beside it, so the
outer bins are closed by them. For numpy's default (linear) quantile of the raw values, the order
statistics it interpolates lie in known bins, so the exact quantile lies in [lower edge of the bin of
the lower order statistic, upper edge of the bin of the upper one] (edges clamped to [min, max]). The
estimate interpolates within that bin in log space; `error_bound` is its distance to the far end of the
interval, so |exact - estimate| <= error_bound always holds. With 20 bins per decade the interval is at
most ~12 % of the value wide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Quantile:
    q: float
    value: float
    error_bound: float
    lower: float
    upper: float


def log_histogram_quantiles(
    counts: Sequence[int], qs: Sequence[float], *, log_lo: float, log_hi: float, vmin: float, vmax: float
) -> list[Quantile]:
    c = np.asarray(counts, dtype=np.int64)
    bins = c.size - 2
    if bins < 1:
        raise ValueError("a histogram needs at least one bin plus the under/overflow elements")
    n = int(c.sum())
    if n == 0:
        raise ValueError("histogram is empty")
    if not vmin <= vmax:
        raise ValueError(f"min {vmin} > max {vmax}")
    width = (log_hi - log_lo) / bins
    lows = np.empty(c.size)
    highs = np.empty(c.size)
    lows[0], highs[0] = vmin, 10.0**log_lo
    lows[-1], highs[-1] = 10.0**log_hi, vmax
    k = np.arange(bins)
    lows[1:-1] = 10.0 ** (log_lo + k * width)
    highs[1:-1] = 10.0 ** (log_lo + (k + 1) * width)
    lows, highs = np.clip(lows, vmin, vmax), np.clip(highs, vmin, vmax)
    cum = np.cumsum(c)
    out = []
    for q in qs:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile {q} outside [0, 1]")
        h = (n - 1) * q
        r_lo, r_hi = math.floor(h), math.ceil(h)
        b_lo = int(np.searchsorted(cum, r_lo, side="right"))
        b_hi = int(np.searchsorted(cum, r_hi, side="right"))
        lower, upper = float(lows[b_lo]), float(highs[b_hi])
        before = cum[b_lo] - c[b_lo]
        frac = (h - before + 0.5) / c[b_lo]
        a, b = float(lows[b_lo]), float(highs[b_lo])
        if a > 0 and b > a:
            est = math.exp(math.log(a) + min(max(frac, 0.0), 1.0) * (math.log(b) - math.log(a)))
        else:
            est = a + min(max(frac, 0.0), 1.0) * (b - a)
        est = min(max(est, lower), upper)
        out.append(Quantile(q, est, max(est - lower, upper - est), lower, upper))
    return out


def log_histogram_quantiles_batch(
    counts: NDArray[np.int64],
    qs: Sequence[float],
    *,
    log_lo: float,
    log_hi: float,
    vmin: NDArray[np.float64],
    vmax: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """`log_histogram_quantiles` for B histograms at once: `counts` (B, bins + 2), `vmin` / `vmax` (B,).
    Returns (values, error_bounds), each (len(qs), B); NaN (bound NaN) where a histogram is empty."""
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim != 2 or c.shape[1] < 3:
        raise ValueError("counts must be (B, bins + 2) with at least one bin")
    bins = c.shape[1] - 2
    n = c.sum(axis=1)
    ok = n > 0
    vmin = np.where(ok, np.asarray(vmin, dtype=np.float64), 1.0)
    vmax = np.where(ok, np.asarray(vmax, dtype=np.float64), 1.0)
    if np.any(~(vmin <= vmax)):
        raise ValueError("min > max in some histogram")
    width = (log_hi - log_lo) / bins
    k = np.arange(bins)
    inner_lo = 10.0 ** (log_lo + k * width)
    inner_hi = 10.0 ** (log_lo + (k + 1) * width)
    size = c.shape[0]
    lows = np.empty_like(c, dtype=np.float64)
    highs = np.empty_like(c, dtype=np.float64)
    lows[:, 0], highs[:, 0] = vmin, 10.0**log_lo
    lows[:, -1], highs[:, -1] = 10.0**log_hi, vmax
    lows[:, 1:-1] = inner_lo
    highs[:, 1:-1] = inner_hi
    lows = np.clip(lows, vmin[:, None], vmax[:, None])
    highs = np.clip(highs, vmin[:, None], vmax[:, None])
    cum = np.cumsum(c, axis=1)
    rows = np.arange(size)
    values = np.full((len(qs), size), np.nan)
    bounds = np.full((len(qs), size), np.nan)
    nn = np.where(ok, n, 1)
    for i, q in enumerate(qs):
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile {q} outside [0, 1]")
        h = (nn - 1) * q
        r_lo, r_hi = np.floor(h), np.ceil(h)
        # searchsorted(cum, r, side="right") per row (clipped: empty rows are masked out below)
        b_lo = np.minimum((cum <= r_lo[:, None]).sum(axis=1), c.shape[1] - 1)
        b_hi = np.minimum((cum <= r_hi[:, None]).sum(axis=1), c.shape[1] - 1)
        lower, upper = lows[rows, b_lo], highs[rows, b_hi]
        before = cum[rows, b_lo] - c[rows, b_lo]
        a, b = lows[rows, b_lo], highs[rows, b_lo]
        logs = (a > 0) & (b > a)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.clip((h - before + 0.5) / c[rows, b_lo], 0.0, 1.0)
            geo = np.exp(np.log(a) + frac * (np.log(b) - np.log(a)))
        est = np.where(logs, geo, a + frac * (b - a))
        est = np.minimum(np.maximum(est, lower), upper)
        values[i] = np.where(ok, est, np.nan)
        bounds[i] = np.where(ok, np.maximum(est - lower, upper - est), np.nan)
    return values, bounds
