"""Turning (reference, current) inputs into clean raw samples, and a scale for normalised distances."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.algorithms.drift.binning import BinnedCounts, FloatArray, NumericInput, clean_numeric
from engine.algorithms.drift.method import BinnedInputNotSupported


def raw_pair(
    reference: NumericInput, current: NumericInput, method: str
) -> tuple[FloatArray, FloatArray, dict[str, Any]]:
    """Present values of both sides and the counts that go into every result's details.

    NaN / inf are counted as missing and left out (reported in the details); a side with no present
    value is a ValueError.
    """
    if isinstance(reference, BinnedCounts) or isinstance(current, BinnedCounts):
        raise BinnedInputNotSupported(f"{method} needs raw samples, not binned counts")
    ref, ref_missing = clean_numeric(reference, "reference")
    cur, cur_missing = clean_numeric(current, "current")
    require_present(ref.size, cur.size)
    return ref, cur, sample_details(ref.size, cur.size, ref_missing, cur_missing)


def require_present(n_reference: int, n_current: int) -> None:
    if n_reference == 0:
        raise ValueError("reference has no present (non-missing) values")
    if n_current == 0:
        raise ValueError("current has no present (non-missing) values")


def sample_details(n_ref: int, n_cur: int, ref_missing: int, cur_missing: int) -> dict[str, Any]:
    return {
        "n_reference": n_ref,
        "n_current": n_cur,
        "missing_reference": ref_missing,
        "missing_current": cur_missing,
    }


def binned_details(ref: BinnedCounts, cur: BinnedCounts) -> dict[str, Any]:
    require_present(ref.total, cur.total)
    details = sample_details(ref.total, cur.total, ref.missing, cur.missing)
    details["n_bins"] = int(ref.counts.size)
    return details


def normalising_scale(ref_std: float, pooled_std: float) -> float:
    """Reference standard deviation; for a constant reference the pooled one; 1.0 if both are 0.

    With both 0 the two samples are the same constant, so every distance is 0 whatever the scale.
    """
    if ref_std > 0:
        return ref_std
    if pooled_std > 0:
        return pooled_std
    return 1.0


def raw_scale(ref: FloatArray, cur: FloatArray) -> float:
    return normalising_scale(float(np.std(ref)), float(np.std(np.concatenate([ref, cur]))))


def binned_scale(ref: BinnedCounts, cur: BinnedCounts) -> float:
    return normalising_scale(ref.std(), (ref + cur).std())


def single_distinct_value(ref: FloatArray, cur: FloatArray) -> bool:
    """True when the pooled sample is one repeated value (rank tests are undefined there)."""
    lo = min(ref.min(), cur.min())
    hi = max(ref.max(), cur.max())
    return bool(lo == hi)
