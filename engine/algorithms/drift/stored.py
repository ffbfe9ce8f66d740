"""Drift methods on stored state: a window (or a baseline) of one feature as its counts in the baseline's
bins plus exact moments, as the feature windows and baselines hold it.

`stored_statistic(method, reference, current)` computes every registered method that needs no raw values:
numeric `ks` (fine bins; bound = max bin mass), `wasserstein` / `wasserstein_normed` / `auto_numeric`'s
effect (`binned_bounds.wasserstein_bounds`, bound stated), `psi`, `jensen_shannon`, `kl_divergence`,
`hellinger` (on the ~10 reference-equal-mass groups of the fine bins), and `mean_shift` (exact |Δmean| /
reference σ, not a registry method); categorical ones through the registry on the category counts, values
outside the baseline's categories counted as one extra category `OTHER`. σ is the population standard
deviation (ddof = 0) of the reference, exact from its sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.algorithms.drift.binned_bounds import coarsen, coarsen_groups, wasserstein_bounds
from engine.algorithms.drift.binning import BinnedCounts, CategoryCounts
from engine.algorithms.drift.method import DRIFT_METHODS, Statistic
from engine.algorithms.drift.multiple_testing import benjamini_hochberg
from engine.algorithms.drift.numeric_distances import hellinger, jensen_shannon, kl_divergence, psi
from engine.algorithms.drift.numeric_tests import ks

OTHER = "__other__"
NUMERIC_BINNED = ("auto_numeric", "ks", "wasserstein", "wasserstein_normed", "psi", "jensen_shannon",
                  "kl_divergence", "hellinger", "mean_shift")
CATEGORICAL_BINNED = ("auto_categorical", "chi_square", "z_test", "psi_categorical", "jensen_shannon_categorical",
                      "total_variation", "new_categories")
_COARSE = {"psi": psi, "jensen_shannon": jensen_shannon, "kl_divergence": kl_divergence, "hellinger": hellinger}


@dataclass(frozen=True, slots=True)
class StoredWindow:
    """One feature over a window. Numeric: `counts` in the bins of `edges`; `total`/`total_sq`/`lo`/`hi`
    the sum, sum of squares, minimum and maximum of the present values; `bin_sums` per bin when known
    (baselines). Categorical: `counts` per category of `categories`, `out_of_range` the values outside."""

    counts: NDArray[np.int64]
    missing: int
    out_of_range: int
    edges: NDArray[np.float64] | None = None
    categories: tuple[str, ...] | None = None
    total: float | None = None
    total_sq: float | None = None
    lo: float | None = None
    hi: float | None = None
    bin_sums: NDArray[np.float64] | None = None

    @property
    def n(self) -> int:
        return int(self.counts.sum()) + (self.out_of_range if self.categories is not None else 0)

    def __add__(self, other: StoredWindow) -> StoredWindow:
        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        def lowest(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else min(a, b)

        def highest(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else max(a, b)

        return StoredWindow(
            self.counts + other.counts, self.missing + other.missing, self.out_of_range + other.out_of_range,
            self.edges, self.categories, add(self.total, other.total), add(self.total_sq, other.total_sq),
            lowest(self.lo, other.lo), highest(self.hi, other.hi),
            None if self.bin_sums is None or other.bin_sums is None else self.bin_sums + other.bin_sums,
        )

    def mean_std(self) -> tuple[float, float]:
        n = int(self.counts.sum())
        if n == 0 or self.total is None or self.total_sq is None:
            return math.nan, math.nan
        mean = self.total / n
        return mean, math.sqrt(max(self.total_sq / n - mean * mean, 0.0))

    def category_counts(self) -> CategoryCounts:
        assert self.categories is not None
        counts = {c: int(k) for c, k in zip(self.categories, self.counts.tolist(), strict=True) if k}
        if self.out_of_range:
            counts[OTHER] = self.out_of_range
        return CategoryCounts(counts, self.missing)


def _scale(ref: StoredWindow, cur: StoredWindow) -> float:
    _, sd = ref.mean_std()
    if sd > 0:
        return sd
    _, pooled = (ref + cur).mean_std()
    return pooled if pooled > 0 else 1.0


def _wasserstein(ref: StoredWindow, cur: StoredWindow) -> tuple[float, float, float]:
    """(estimate, bound, |Δmean|) in the feature's units."""
    assert ref.edges is not None
    m_ref, _ = ref.mean_std()
    m_cur, _ = cur.mean_std()
    shift = abs(m_ref - m_cur) if math.isfinite(m_ref) and math.isfinite(m_cur) else None
    los = [v for v in (ref.lo, cur.lo) if v is not None]
    his = [v for v in (ref.hi, cur.hi) if v is not None]
    lo = min(los) if los else float(ref.edges[0])
    hi = max(his) if his else float(ref.edges[-1])
    est, bound, _, _ = wasserstein_bounds(ref.edges, ref.counts, cur.counts, lo, hi, ref.bin_sums, cur.bin_sums, shift)
    return est, bound, shift if shift is not None else math.nan


def _details(ref: StoredWindow, cur: StoredWindow) -> dict[str, object]:
    return {"n_reference": ref.n, "n_current": cur.n, "missing_reference": ref.missing,
            "missing_current": cur.missing, "out_of_range_current": cur.out_of_range, "from_bins": True}


def stored_statistic(method: str, ref: StoredWindow, cur: StoredWindow) -> tuple[Statistic, float | None]:
    """The method's statistic on stored state, and the half-width of the interval the exact statistic (on
    the raw values the state summarises) lies in, where the value is estimated from bins (else None)."""
    if ref.categories is not None:
        if method not in CATEGORICAL_BINNED:
            raise ValueError(f"{method!r} cannot be computed from stored categorical counts; "
                             f"use one of {', '.join(CATEGORICAL_BINNED)} or an exact (raw-row) analysis")
        stat = DRIFT_METHODS.get(method).compute(ref.category_counts(), cur.category_counts())
        return Statistic(stat.value, stat.p_value, {**stat.details, **_details(ref, cur)}), None
    if method not in NUMERIC_BINNED:
        raise ValueError(f"{method!r} cannot be computed from stored bins; "
                         f"use one of {', '.join(NUMERIC_BINNED)} or an exact (raw-row) analysis")
    assert ref.edges is not None
    if int(ref.counts.sum()) == 0 or int(cur.counts.sum()) == 0:
        raise ValueError("no present values on one side")
    details = _details(ref, cur)
    if method in ("ks", "auto_numeric"):
        test = ks(BinnedCounts(ref.edges, ref.counts), BinnedCounts(ref.edges, cur.counts))
        ks_bound = float(test.details["approximation_bound"])
        if method == "ks":
            return Statistic(test.value, test.p_value, {**details, "approximation_bound": ks_bound}), ks_bound
    if method in ("wasserstein", "wasserstein_normed", "auto_numeric", "mean_shift"):
        est, bound, shift = _wasserstein(ref, cur)
        scale = _scale(ref, cur)
        details.update(wasserstein_raw=est, wasserstein_bound_raw=bound, mean_shift_raw=shift, scale=scale)
        if method == "wasserstein":
            return Statistic(est, None, details), bound
        if method == "mean_shift":
            return Statistic(shift / scale, None, details), 0.0
        if method == "wasserstein_normed":
            return Statistic(est / scale, None, details), bound / scale
        details.update(test_method="ks", test_statistic=test.value, test_approximation_bound=ks_bound,
                       effect_method="wasserstein_normed")
        return Statistic(est / scale, test.p_value, details), bound / scale
    groups = coarsen_groups(ref.counts)
    bounds = np.flatnonzero(np.diff(groups)) + 1  # first fine bin of each group after the first
    edges = ref.edges[bounds - 1]
    r, c = coarsen(ref.counts, groups), coarsen(cur.counts, groups)
    if edges.size == 0:  # everything in one group: a single bin, no divergence possible
        return Statistic(0.0, None, {**details, "n_groups": 1}), None
    stat = _COARSE[method](BinnedCounts(edges, r), BinnedCounts(edges, c))
    return Statistic(stat.value, None, {**details, "n_groups": int(r.size)}), None


def loco_statistics(method: str, chunks: list[StoredWindow]) -> list[float]:
    """The method's statistic of each reference chunk against the reference without that chunk
    (leave-one-chunk-out): what a calibrated threshold's band is taken from."""
    if len(chunks) < 3:
        raise ValueError("calibration needs at least three reference chunks")
    whole = chunks[0]
    for c in chunks[1:]:
        whole = whole + c
    out = []
    for c in chunks:
        rest = StoredWindow(
            whole.counts - c.counts, whole.missing - c.missing, whole.out_of_range - c.out_of_range,
            whole.edges, whole.categories, None, None, None, None, None,
        )
        if int(rest.counts.sum()) == 0 or int(c.counts.sum()) == 0:
            continue
        stat, _ = stored_statistic(method, _with_moments(rest), _with_moments(c))
        out.append(stat.value)
    return out


def _with_moments(w: StoredWindow) -> StoredWindow:
    """Chunks keep counts only: moments estimated from bin midpoints (outer bins at their edge), so
    calibrated and analysed statistics are computed alike up to that approximation."""
    if w.edges is None or w.total is not None:
        return w
    e = w.edges
    pos = np.concatenate([[e[0]], (e[:-1] + e[1:]) / 2, [e[-1]]]) if e.size > 1 else np.array([e[0], e[0]])
    c = w.counts.astype(np.float64)
    return StoredWindow(w.counts, w.missing, w.out_of_range, w.edges, None, float(c @ pos), float(c @ (pos * pos)),
                        float(e[0]), float(e[-1]), None)


def adjust(p_values: list[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values, in order."""
    return benjamini_hochberg(np.asarray(p_values, dtype=np.float64)).tolist() if p_values else []
