"""Distances between numeric distributions: PSI, Jensen–Shannon, KL, Hellinger, Wasserstein, energy.

PSI, Jensen–Shannon, KL and Hellinger are *binned* statistics by definition: raw samples are binned on
the reference quantile edges (see `binning`), binned counts are used as given, so raw and binned
inputs give identical values.

Wasserstein-1 on raw samples is `ecdf.compare_ecdfs` (equal to scipy's ``wasserstein_distance``). From binned counts each bin's mass
is placed at one point (its mean when per-bin sums are known, else the midpoint / finite outer edge)
and the distance between the two discrete distributions is returned. By the triangle inequality the
error is at most ``W(ref, ref_binned) + W(cur, cur_binned)``, the mean distance of the values to
their bin's point (within a bin's width for interior bins). ``wasserstein_normed`` divides by the
reference standard deviation (population, ddof = 0; from sums when binned) — Evidently's "normed
Wasserstein" — and falls back to the pooled std for a constant reference (see `samples`).

Energy distance is scipy's ``energy_distance`` on raw samples standardised by the same scale (i.e. the
raw value divided by the square root of the scale, as the energy distance grows with the square root
of the scale), so that its default threshold is unit-free; the raw value is in
``details["energy_distance_raw"]``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from engine.algorithms.drift import divergences
from engine.algorithms.drift.binning import BinnedCounts, NumericInput, binned_pair, is_binned
from engine.algorithms.drift.ecdf import compare_ecdfs
from engine.algorithms.drift.method import Statistic, register
from engine.algorithms.drift.samples import binned_details, binned_scale, raw_pair, raw_scale

DISTANCE_THRESHOLD = 0.1


def _binned_statistic(
    reference: NumericInput, current: NumericInput, fn: Callable[[ArrayLike, ArrayLike], float]
) -> Statistic:
    ref_b, cur_b = binned_pair(reference, current)
    details = binned_details(ref_b, cur_b)
    return Statistic(fn(ref_b.counts, cur_b.counts), None, details)


@register("psi", "numeric", "distance", DISTANCE_THRESHOLD, accepts_binned=True)
def psi(reference: NumericInput, current: NumericInput) -> Statistic:
    """Population stability index on the reference quantile bins (epsilon-smoothed, natural log)."""
    return _binned_statistic(reference, current, divergences.psi)


@register("jensen_shannon", "numeric", "distance", DISTANCE_THRESHOLD, accepts_binned=True)
def jensen_shannon(reference: NumericInput, current: NumericInput) -> Statistic:
    """Jensen–Shannon distance (base 2) on the reference quantile bins."""
    return _binned_statistic(reference, current, divergences.jensen_shannon_distance)


@register("kl_divergence", "numeric", "distance", DISTANCE_THRESHOLD, accepts_binned=True)
def kl_divergence(reference: NumericInput, current: NumericInput) -> Statistic:
    """KL(reference || current) in nats on the reference quantile bins (epsilon-smoothed)."""
    return _binned_statistic(reference, current, divergences.kl_divergence)


@register("hellinger", "numeric", "distance", DISTANCE_THRESHOLD, accepts_binned=True)
def hellinger(reference: NumericInput, current: NumericInput) -> Statistic:
    """Hellinger distance on the reference quantile bins."""
    return _binned_statistic(reference, current, divergences.hellinger_distance)


def _wasserstein(reference: NumericInput, current: NumericInput, normed: bool) -> Statistic:
    if not is_binned(reference, current):
        ref, cur, details = raw_pair(reference, current, "wasserstein")
        raw = compare_ecdfs(ref, cur).wasserstein
        scale = raw_scale(ref, cur)
    else:
        ref_b, cur_b = binned_pair(reference, current)
        details = binned_details(ref_b, cur_b)
        raw = binned_wasserstein(ref_b, cur_b)
        scale = binned_scale(ref_b, cur_b)
        details["from_bins"] = True
    details["wasserstein_raw"] = raw
    details["scale"] = scale
    return Statistic(raw / scale if normed else raw, None, details)


def binned_wasserstein(ref: BinnedCounts, cur: BinnedCounts) -> float:
    """Wasserstein-1 between the two binned distributions, each bin's mass at its point."""
    return float(stats.wasserstein_distance(ref.bin_positions(), cur.bin_positions(), ref.counts, cur.counts))


@register("wasserstein", "numeric", "distance", None, accepts_binned=True)
def wasserstein(reference: NumericInput, current: NumericInput) -> Statistic:
    """Wasserstein-1 distance in the feature's units (no default threshold: units vary)."""
    return _wasserstein(reference, current, normed=False)


@register("wasserstein_normed", "numeric", "distance", DISTANCE_THRESHOLD, accepts_binned=True)
def wasserstein_normed(reference: NumericInput, current: NumericInput) -> Statistic:
    """Wasserstein-1 distance divided by the reference standard deviation."""
    return _wasserstein(reference, current, normed=True)


@register("energy_distance", "numeric", "distance", DISTANCE_THRESHOLD, accepts_binned=False)
def energy_distance(reference: NumericInput, current: NumericInput) -> Statistic:
    """Energy distance (scipy) of the samples divided by the reference standard deviation."""
    ref, cur, details = raw_pair(reference, current, "energy_distance")
    raw = float(stats.energy_distance(ref, cur))
    scale = raw_scale(ref, cur)
    details["energy_distance_raw"] = raw
    details["scale"] = scale
    # The energy distance grows with the square root of the scale: this equals it on x / scale.
    return Statistic(raw / float(np.sqrt(scale)), None, details)
