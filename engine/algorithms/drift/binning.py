"""The one binning convention used by every binned drift statistic.

Numeric features
----------------
* **Edges come from the reference and stay fixed.** `quantile_edges(reference, n_bins=10)` takes the
  reference quantiles at 1/n, 2/n, ..., (n-1)/n (numpy's default linear interpolation) as *interior*
  edges ``e[0] < ... < e[k-1]``. Ties and constant data give repeated quantiles; repeats are dropped
  (``np.unique``), so a constant reference has a single edge and two bins, and a heavily tied
  reference has fewer than ``n_bins`` bins. Every window of the same feature is binned against the
  same edges, so the statistics are comparable across windows.
* **Open outer bins.** With k interior edges there are k+1 bins: bin 0 = (-inf, e[0]),
  bin i = [e[i-1], e[i]) for 1 <= i < k, bin k = [e[k-1], +inf). A value equal to an edge belongs to
  the bin on its right.
* **Same index as PostgreSQL.** ``np.searchsorted(edges, x, side="right")`` returns exactly what
  ``width_bucket(x, edges::float8[])`` returns in SQL, so counts computed in the database and counts
  computed here are interchangeable.
* **Missing values.** NaN and +-inf (SQL: NULL and NaN) are not binned; they are counted in
  ``missing`` and reported, never silently dropped. Statistics are computed over the present values.
* **Optional per-bin sums.** ``sums`` and ``sums_sq`` (SQL: ``sum(x)``, ``sum(x*x)`` grouped by
  bucket) let distance statistics place each bin's mass at its actual mean and recover the
  reference standard deviation exactly. Without them interior bins sit at their midpoint and the
  outer bins at their finite edge.

Categorical features
--------------------
``CategoryCounts`` maps category -> count plus a ``missing`` count; two count tables are aligned on
the union of their categories (sorted), a category absent from one side counting 0 there.

Proportions and epsilon
-----------------------
``proportions(counts)`` divides by the total. Statistics with a logarithm of a ratio (PSI, KL) use
``smoothed_proportions``: each *empty* bin's proportion is set to ``EPSILON = 1e-4`` and the vector
is renormalised to sum to 1. Bounded statistics (Jensen–Shannon, Hellinger, total variation) use the
unsmoothed proportions. Logarithms: natural log for PSI and KL; base 2 for the Jensen–Shannon
distance so that it lies in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

EPSILON = 1e-4
DEFAULT_BINS = 10

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def clean_numeric(values: ArrayLike, what: str = "values") -> tuple[FloatArray, int]:
    """Present (finite) values as float64 and the number of missing (NaN / +-inf) ones."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be numeric: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if finite.all():
        return arr, 0
    return arr[finite], int(arr.size - finite.sum())


def quantile_edges(reference: ArrayLike, n_bins: int = DEFAULT_BINS) -> FloatArray:
    """Interior bin edges from reference quantiles, deduplicated (see module docstring)."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    values, _ = clean_numeric(reference, "reference")
    if values.size == 0:
        raise ValueError("reference has no present (finite) values to take bin edges from")
    qs = np.arange(1, n_bins, dtype=np.float64) / n_bins
    return np.unique(np.quantile(values, qs))


@dataclass(frozen=True, slots=True, eq=False)
class BinnedCounts:
    """Counts of one numeric feature's window in the reference's bins (plus missing).

    ``counts`` has ``len(edges) + 1`` entries. Windows binned against the same edges merge with ``+``.
    """

    edges: FloatArray
    counts: IntArray
    missing: int = 0
    sums: FloatArray | None = None
    sums_sq: FloatArray | None = None

    def __post_init__(self) -> None:
        edges = np.asarray(self.edges, dtype=np.float64)
        counts = np.asarray(self.counts)
        if edges.ndim != 1 or edges.size == 0:
            raise ValueError("edges must be a non-empty one-dimensional array")
        if not (np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0)):
            raise ValueError("edges must be finite and strictly increasing")
        if counts.shape != (edges.size + 1,):
            raise ValueError(
                f"counts must have len(edges) + 1 = {edges.size + 1} entries, got {counts.shape}"
            )
        if np.any(counts < 0) or self.missing < 0:
            raise ValueError("counts and missing must be non-negative")
        if (self.sums is None) != (self.sums_sq is None):
            raise ValueError("give both sums and sums_sq, or neither")
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "counts", counts.astype(np.int64))
        for name in ("sums", "sums_sq"):
            extra = getattr(self, name)
            if extra is not None:
                extra = np.asarray(extra, dtype=np.float64)
                if extra.shape != counts.shape:
                    raise ValueError(f"{name} must have the same shape as counts")
                object.__setattr__(self, name, extra)

    @property
    def total(self) -> int:
        """Number of present (binned) values."""
        return int(self.counts.sum())

    def __add__(self, other: BinnedCounts) -> BinnedCounts:
        if not isinstance(other, BinnedCounts):
            return NotImplemented
        require_same_edges(self, other)
        sums = sums_sq = None
        if self.sums is not None and other.sums is not None:
            sums = self.sums + other.sums
            sums_sq = self.sums_sq + other.sums_sq  # type: ignore[operator]
        return BinnedCounts(
            self.edges, self.counts + other.counts, self.missing + other.missing, sums, sums_sq
        )

    def bin_positions(self) -> FloatArray:
        """Where each bin's mass sits: its mean when sums are known, else midpoint / outer edge."""
        e = self.edges
        pos = np.empty(e.size + 1)
        pos[0], pos[-1] = e[0], e[-1]
        pos[1:-1] = (e[:-1] + e[1:]) / 2
        if self.sums is not None:
            filled = self.counts > 0
            pos[filled] = self.sums[filled] / self.counts[filled]
        return pos

    def std(self) -> float:
        """Standard deviation of the present values (exact with sums; from bin positions otherwise)."""
        n = self.total
        if n == 0:
            return 0.0
        if self.sums is not None and self.sums_sq is not None and np.isfinite(self.sums_sq).all():
            mean = self.sums.sum() / n
            var = max(self.sums_sq.sum() / n - mean * mean, 0.0)
            return float(np.sqrt(var))
        pos = self.bin_positions()
        mean = float(np.dot(pos, self.counts) / n)
        return float(np.sqrt(np.dot((pos - mean) ** 2, self.counts) / n))


def bin_counts(values: ArrayLike, edges: ArrayLike, with_sums: bool = False) -> BinnedCounts:
    """Bin raw values against fixed edges (``width_bucket`` semantics; see module docstring)."""
    e = np.asarray(edges, dtype=np.float64)
    present, missing = clean_numeric(values)
    idx = np.searchsorted(e, present, side="right")
    counts = np.bincount(idx, minlength=e.size + 1)
    if not with_sums:
        return BinnedCounts(e, counts, missing)
    sums = np.bincount(idx, weights=present, minlength=e.size + 1).astype(np.float64)
    with np.errstate(over="ignore"):  # |x| > 1e154 overflows x²; std() then falls back to bin positions
        sums_sq = np.bincount(idx, weights=present * present, minlength=e.size + 1).astype(np.float64)
    return BinnedCounts(e, counts, missing, sums, sums_sq)


def require_same_edges(a: BinnedCounts, b: BinnedCounts) -> None:
    if a.edges.shape != b.edges.shape or not np.array_equal(a.edges, b.edges):
        raise ValueError("binned counts use different bin edges; bin both against the reference's edges")


NumericInput = ArrayLike | BinnedCounts


def is_binned(*inputs: object) -> bool:
    return any(isinstance(x, BinnedCounts) for x in inputs)


def binned_pair(
    reference: NumericInput, current: NumericInput, n_bins: int = DEFAULT_BINS
) -> tuple[BinnedCounts, BinnedCounts]:
    """Both sides as counts on the same edges: the binned side's edges, else the reference quantiles."""
    if isinstance(reference, BinnedCounts) and isinstance(current, BinnedCounts):
        require_same_edges(reference, current)
        return reference, current
    if isinstance(reference, BinnedCounts):
        return reference, bin_counts(current, reference.edges, with_sums=reference.sums is not None)  # type: ignore[arg-type]
    if isinstance(current, BinnedCounts):
        return bin_counts(reference, current.edges, with_sums=current.sums is not None), current
    edges = quantile_edges(reference, n_bins)
    return bin_counts(reference, edges, with_sums=True), bin_counts(current, edges, with_sums=True)


def proportions(counts: ArrayLike) -> FloatArray:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    if total <= 0:
        raise ValueError("cannot form proportions from an empty count table")
    return c / total


def smoothed_proportions(counts: ArrayLike, epsilon: float = EPSILON) -> FloatArray:
    """Proportions with each empty bin set to ``epsilon`` and the whole renormalised to 1."""
    p = proportions(counts)
    p = np.where(p == 0, epsilon, p)
    return p / p.sum()


@dataclass(frozen=True, slots=True)
class CategoryCounts:
    """Counts of one categorical feature's window: category -> count, plus missing. Mergeable."""

    counts: Mapping[str, int] = field(default_factory=dict)
    missing: int = 0

    def __post_init__(self) -> None:
        if any(v < 0 for v in self.counts.values()) or self.missing < 0:
            raise ValueError("category counts must be non-negative")

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))

    def __add__(self, other: CategoryCounts) -> CategoryCounts:
        if not isinstance(other, CategoryCounts):
            return NotImplemented
        merged = dict(self.counts)
        for key, value in other.counts.items():
            merged[key] = merged.get(key, 0) + value
        return CategoryCounts(merged, self.missing + other.missing)


CategoricalInput = ArrayLike | CategoryCounts


def _is_missing_category(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not np.isfinite(value))


def count_categories(values: CategoricalInput) -> CategoryCounts:
    """Count raw categorical values; None / NaN count as missing. Categories are compared as str."""
    if isinstance(values, CategoryCounts):
        return values
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"categorical values must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "O":
        missing_mask = np.fromiter((_is_missing_category(v) for v in arr), dtype=bool, count=arr.size)
    elif arr.dtype.kind == "f":
        missing_mask = ~np.isfinite(arr)
    else:  # str, bytes, int, bool: nothing can be missing
        missing_mask = np.zeros(arr.size, dtype=bool)
    present = arr[~missing_mask] if missing_mask.any() else arr
    if present.dtype.kind != "U":
        present = present.astype(str)
    keys, counts = np.unique(present, return_counts=True)
    return CategoryCounts(dict(zip(keys.tolist(), counts.tolist(), strict=True)), int(missing_mask.sum()))


def aligned_categories(
    reference: CategoricalInput, current: CategoricalInput
) -> tuple[list[str], IntArray, IntArray, CategoryCounts, CategoryCounts]:
    """Union of categories (sorted) with both count vectors on it."""
    ref, cur = count_categories(reference), count_categories(current)
    keys = sorted(set(ref.counts) | set(cur.counts))
    ref_vec = np.array([ref.counts.get(k, 0) for k in keys], dtype=np.int64)
    cur_vec = np.array([cur.counts.get(k, 0) for k in keys], dtype=np.int64)
    return keys, ref_vec, cur_vec, ref, cur
