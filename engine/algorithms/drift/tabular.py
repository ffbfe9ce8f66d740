"""Rows of mixed features → the numeric matrix a multivariate drift method reads, fitted on the reference.

- Numeric columns: a missing value is imputed with the reference column's median (0 when the reference has
  none), then standardised with the reference mean and standard deviation (ddof = 0; a constant column keeps
  scale 1).
- Categorical columns: a missing value is imputed with the reference's most frequent category (ties: the
  smallest value); then either one-hot over the reference's `MAX_LEVELS` most frequent categories plus one
  column for every other category (`onehot`, for the domain classifier), or the category's relative frequency
  in the reference, 0 for a category it never saw (`frequency`, as NannyML's data reconstruction encodes).

`auc_interval` is the Hanley–McNeil normal interval of a ROC AUC (an approximation for out-of-fold scores).

>>> enc = TabularEncoder.fit(np.array([[1.0], [3.0], [np.nan]]), [["a"], ["b"], ["a"]])
>>> enc.transform(np.array([[np.nan]]), [[None]], "onehot").round(3).tolist()
[[0.0, 1.0, 0.0, 0.0]]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Encoding = Literal["onehot", "frequency"]
MAX_LEVELS = 50


@dataclass(frozen=True, slots=True, eq=False)
class TabularEncoder:
    medians: FloatArray
    means: FloatArray
    scales: FloatArray
    modes: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]  # per categorical column, its one-hot categories
    frequencies: tuple[dict[str, float], ...]

    @classmethod
    def fit(cls, num: FloatArray, cat: list[list[str | None]]) -> TabularEncoder:
        num = np.asarray(num, dtype=np.float64).reshape(len(num), -1)
        with np.errstate(all="ignore"):
            medians = np.array([float(np.nanmedian(c)) if np.isfinite(c).any() else 0.0 for c in num.T])
        filled = _fill(num, medians)
        means = filled.mean(axis=0) if filled.size else np.zeros(num.shape[1])
        scales = filled.std(axis=0) if filled.size else np.ones(num.shape[1])
        scales = np.where(scales > 0, scales, 1.0)
        modes: list[str] = []
        levels: list[tuple[str, ...]] = []
        freqs: list[dict[str, float]] = []
        for j in range(len(cat[0]) if cat else 0):
            seen: Counter[str] = Counter(v for row in cat if (v := row[j]) is not None)
            mode = min(seen.items(), key=lambda kv: (-kv[1], kv[0]))[0] if seen else ""
            seen[mode] += sum(row[j] is None for row in cat)
            ranked = sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))
            modes.append(mode)
            levels.append(tuple(c for c, _ in ranked[:MAX_LEVELS]))
            freqs.append({c: n / len(cat) for c, n in ranked})
        return cls(medians, means, scales, tuple(modes), tuple(levels), tuple(freqs))

    def transform(self, num: FloatArray, cat: list[list[str | None]], encoding: Encoding) -> FloatArray:
        num = np.asarray(num, dtype=np.float64).reshape(len(num), -1)
        parts = [(_fill(num, self.medians) - self.means) / self.scales]
        for j, mode in enumerate(self.modes):
            values = [mode if (v := row[j]) is None else v for row in cat]
            if encoding == "frequency":
                f = self.frequencies[j]
                parts.append(np.array([[f.get(v, 0.0)] for v in values]).reshape(len(values), 1))
                continue
            index = {c: i for i, c in enumerate(self.levels[j])}
            block = np.zeros((len(values), len(index) + 1))
            block[np.arange(len(values)), [index.get(v, len(index)) for v in values]] = 1.0
            parts.append(block)
        return np.hstack(parts) if parts else np.zeros((len(num), 0))

    @staticmethod
    def missing(num: FloatArray, cat: list[list[str | None]]) -> tuple[list[int], list[int]]:
        """Missing values per numeric and per categorical column (what `transform` imputes)."""
        n = [int(v) for v in np.isnan(np.asarray(num, dtype=np.float64)).sum(axis=0)] if len(num) else []
        c = [sum(row[j] is None for row in cat) for j in range(len(cat[0]))] if cat else []
        return n, c


def _fill(x: FloatArray, values: FloatArray) -> FloatArray:
    nan = np.isnan(x)
    return np.where(nan, values, x) if nan.any() else x


def auc_interval(auc: float, n_negative: int, n_positive: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Hanley & McNeil (1982): the standard error of an AUC from the two class sizes."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_positive - 1) * (q1 - auc * auc) + (n_negative - 1) * (q2 - auc * auc)) / (
        n_positive * n_negative)
    se = float(np.sqrt(max(var, 0.0)))
    return max(0.0, auc - z * se), min(1.0, auc + z * se)
