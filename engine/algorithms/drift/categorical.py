"""Drift methods for categorical features, on raw values or `CategoryCounts`.

Both sides are aligned on the union of their categories (a category absent from one side counts 0
there); missing values (None / NaN) are counted and reported, not compared.

* ``chi_square`` — chi-square test of homogeneity on the 2 × K contingency table (no Yates
  correction: ``scipy.stats.chi2_contingency(..., correction=False)``); one category gives 0, p = 1.
* ``z_test`` — pooled two-proportion z-test for a binary feature: the proportion of the first
  category (sorted) in reference vs current, two-sided. More than two categories is a ValueError.
* ``psi_categorical``, ``jensen_shannon_categorical``, ``total_variation`` — the divergences of
  `divergences` on the aligned category proportions (same epsilon and log conventions as numeric).
* ``new_categories`` — the share of current rows in categories never seen in the reference, and the
  share of reference rows in categories absent from the current window; the statistic is the larger
  of the two, drift when it exceeds the threshold (default 0: any new or vanished category).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from engine.algorithms.drift import divergences
from engine.algorithms.drift.binning import CategoricalInput, IntArray, aligned_categories
from engine.algorithms.drift.method import Statistic, register
from engine.algorithms.drift.samples import require_present, sample_details

ALPHA = 0.05
DISTANCE_THRESHOLD = 0.1


def _aligned(
    reference: CategoricalInput, current: CategoricalInput
) -> tuple[list[str], IntArray, IntArray, dict[str, Any]]:
    keys, ref_vec, cur_vec, ref, cur = aligned_categories(reference, current)
    require_present(ref.total, cur.total)
    details = sample_details(ref.total, cur.total, ref.missing, cur.missing)
    details["n_categories"] = len(keys)
    return keys, ref_vec, cur_vec, details


@register("chi_square", "categorical", "test", ALPHA, accepts_binned=True)
def chi_square(reference: CategoricalInput, current: CategoricalInput) -> Statistic:
    """Chi-square test of homogeneity between the reference and current category counts."""
    _, ref_vec, cur_vec, details = _aligned(reference, current)
    if ref_vec.size < 2:
        return Statistic(0.0, 1.0, details)
    table = np.vstack([ref_vec, cur_vec]).astype(np.float64)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    dof = ref_vec.size - 1
    details["dof"] = dof
    return Statistic(chi2, float(stats.chi2.sf(chi2, dof)), details)


@register("z_test", "categorical", "test", ALPHA, accepts_binned=True)
def z_test(reference: CategoricalInput, current: CategoricalInput) -> Statistic:
    """Pooled two-proportion z-test for a binary categorical feature (two-sided)."""
    keys, ref_vec, cur_vec, details = _aligned(reference, current)
    if ref_vec.size > 2:
        raise ValueError(f"z_test needs a binary feature, got {ref_vec.size} categories; use chi_square")
    n1, n2 = int(ref_vec.sum()), int(cur_vec.sum())
    p1, p2 = ref_vec[0] / n1, cur_vec[0] / n2
    pooled = (ref_vec[0] + cur_vec[0]) / (n1 + n2)
    details["category"] = keys[0]
    details["proportion_reference"], details["proportion_current"] = float(p1), float(p2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:  # one category only, or the same certain outcome on both sides
        return Statistic(0.0, 1.0, details)
    z = float((p1 - p2) / se)
    return Statistic(z, float(2 * stats.norm.sf(abs(z))), details)


def _divergence(
    reference: CategoricalInput, current: CategoricalInput, fn: Callable[[ArrayLike, ArrayLike], float]
) -> Statistic:
    _, ref_vec, cur_vec, details = _aligned(reference, current)
    return Statistic(fn(ref_vec, cur_vec), None, details)


@register("psi_categorical", "categorical", "distance", DISTANCE_THRESHOLD, accepts_binned=True)
def psi_categorical(reference: CategoricalInput, current: CategoricalInput) -> Statistic:
    """Population stability index over the union of categories."""
    return _divergence(reference, current, divergences.psi)


@register("jensen_shannon_categorical", "categorical", "distance", DISTANCE_THRESHOLD, accepts_binned=True)
def jensen_shannon_categorical(reference: CategoricalInput, current: CategoricalInput) -> Statistic:
    """Jensen–Shannon distance (base 2) over the union of categories."""
    return _divergence(reference, current, divergences.jensen_shannon_distance)


@register("total_variation", "categorical", "distance", DISTANCE_THRESHOLD, accepts_binned=True)
def total_variation(reference: CategoricalInput, current: CategoricalInput) -> Statistic:
    """Total variation distance over the union of categories."""
    return _divergence(reference, current, divergences.total_variation_distance)


@register("new_categories", "categorical", "distance", 0.0, accepts_binned=True)
def new_categories(reference: CategoricalInput, current: CategoricalInput) -> Statistic:
    """Categories new in the current window or vanished from it, as shares of rows."""
    keys, ref_vec, cur_vec, details = _aligned(reference, current)
    new = (ref_vec == 0) & (cur_vec > 0)
    vanished = (ref_vec > 0) & (cur_vec == 0)
    new_share = float(cur_vec[new].sum() / cur_vec.sum())
    vanished_share = float(ref_vec[vanished].sum() / ref_vec.sum())
    details["new_categories"] = [k for k, flag in zip(keys, new, strict=True) if flag]
    details["missing_categories"] = [k for k, flag in zip(keys, vanished, strict=True) if flag]
    details["new_share"], details["vanished_share"] = new_share, vanished_share
    return Statistic(max(new_share, vanished_share), None, details)
