"""Divergences between two count vectors on the same bins (numeric bins or aligned categories).

Pure functions of counts, following the convention in `binning`: PSI and KL use the epsilon-smoothed
proportions and the natural log; Jensen–Shannon (base 2, so in [0, 1]), Hellinger and total variation
use the plain proportions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from engine.algorithms.drift.binning import EPSILON, proportions, smoothed_proportions


def psi(reference_counts: ArrayLike, current_counts: ArrayLike, epsilon: float = EPSILON) -> float:
    """Population stability index ``sum((q - p) * ln(q / p))``, p = reference, q = current."""
    p = smoothed_proportions(reference_counts, epsilon)
    q = smoothed_proportions(current_counts, epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def kl_divergence(reference_counts: ArrayLike, current_counts: ArrayLike, epsilon: float = EPSILON) -> float:
    """Kullback–Leibler divergence ``KL(reference || current)`` in nats."""
    p = smoothed_proportions(reference_counts, epsilon)
    q = smoothed_proportions(current_counts, epsilon)
    return float(np.sum(p * np.log(p / q)))


def jensen_shannon_distance(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Square root of the Jensen–Shannon divergence in bits: symmetric, in [0, 1]."""
    p, q = proportions(reference_counts), proportions(current_counts)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_pm = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_qm = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(np.sqrt(min(max((kl_pm + kl_qm) / 2, 0.0), 1.0)))


def hellinger_distance(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Hellinger distance ``sqrt(1 - sum(sqrt(p * q)))``, in [0, 1]."""
    p, q = proportions(reference_counts), proportions(current_counts)
    return float(np.sqrt(max(1.0 - float(np.sum(np.sqrt(p * q))), 0.0)))


def total_variation_distance(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Total variation distance ``sum(|p - q|) / 2``, in [0, 1]."""
    p, q = proportions(reference_counts), proportions(current_counts)
    return float(min(np.abs(p - q).sum() / 2, 1.0))
