"""Mergeable aggregates that classification metrics are computed from.

A windows layer produces these from SQL (`GROUP BY actual, predicted`, `width_bucket(score, edges)`,
`sum(...)`) per time bucket; parts are combined with `merge` (or `+`) and the metrics read the total.
Each also has a constructor from raw arrays, which is what the raw-array metrics use, so both input
forms give the same answers.

>>> a = ConfusionCounts.from_labels([0, 1, 1], [0, 1, 0])
>>> b = ConfusionCounts.from_labels([1, 1], [1, 1])
>>> (a + b).matrix
((1, 0), (1, 3))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine.algorithms.performance._common import (
    Label,
    as_1d,
    check_probabilities,
    check_same_length,
)

DEFAULT_HISTOGRAM_BINS = 100


def _label_tuple(values: NDArray[Any]) -> tuple[Label, ...]:
    return tuple(v.item() if isinstance(v, np.generic) else v for v in values)


@dataclass(frozen=True, slots=True)
class ConfusionCounts:
    """Counts `matrix[i][j]` of rows with actual `labels[i]` and predicted `labels[j]`."""

    labels: tuple[Label, ...]
    matrix: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        k = len(self.labels)
        if k == 0:
            raise ValueError("ConfusionCounts needs at least one label")
        if len(set(self.labels)) != k:
            raise ValueError(f"ConfusionCounts labels repeat: {self.labels}")
        if len(self.matrix) != k or any(len(row) != k for row in self.matrix):
            raise ValueError(f"ConfusionCounts matrix must be {k}x{k} for labels {self.labels}")
        if any(c < 0 for row in self.matrix for c in row):
            raise ValueError("ConfusionCounts counts must be non-negative")

    @classmethod
    def from_array(cls, labels: Sequence[Label], matrix: ArrayLike) -> ConfusionCounts:
        arr = np.asarray(matrix)
        if arr.ndim != 2 or (arr.dtype.kind not in "iub" and not np.all(arr == np.round(arr))):
            raise ValueError("confusion matrix must be a 2-D array of integer counts")
        return cls(tuple(labels), tuple(tuple(int(c) for c in row) for row in arr))

    @classmethod
    def from_labels(
        cls, y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Label] | None = None
    ) -> ConfusionCounts:
        """Count raw label pairs. `labels` defaults to the sorted union of both arrays."""
        t = as_1d(y_true, "y_true", numeric=False)
        p = as_1d(y_pred, "y_pred", numeric=False)
        check_same_length(y_true=t, y_pred=p)
        lab = np.unique(np.concatenate([t, p])) if labels is None else np.asarray(list(labels))
        if lab.size == 0:
            raise ValueError("labels is empty")
        order = np.argsort(lab, kind="stable")
        sorted_lab = lab[order]
        ti = np.searchsorted(sorted_lab, t)
        pi = np.searchsorted(sorted_lab, p)
        ti_c = np.clip(ti, 0, lab.size - 1)
        pi_c = np.clip(pi, 0, lab.size - 1)
        if np.any(sorted_lab[ti_c] != t) or np.any(sorted_lab[pi_c] != p):
            raise ValueError(f"y_true / y_pred hold values outside labels {list(lab)}")
        k = lab.size
        flat = np.bincount(order[ti_c] * k + order[pi_c], minlength=k * k)
        return cls.from_array(_label_tuple(lab), flat.reshape(k, k))

    @property
    def array(self) -> NDArray[np.int64]:
        return np.asarray(self.matrix, dtype=np.int64)

    @property
    def n(self) -> int:
        return int(self.array.sum())

    def with_labels(self, labels: Sequence[Label]) -> ConfusionCounts:
        """The same counts laid out over `labels` (a superset of this table's labels)."""
        missing = [lab for lab in self.labels if lab not in labels]
        if missing:
            raise ValueError(f"labels {missing} would be dropped")
        index = {lab: i for i, lab in enumerate(labels)}
        out = np.zeros((len(labels), len(labels)), dtype=np.int64)
        pos = [index[lab] for lab in self.labels]
        out[np.ix_(pos, pos)] = self.array
        return ConfusionCounts.from_array(labels, out)

    def merge(self, other: ConfusionCounts) -> ConfusionCounts:
        labels = self.labels + tuple(lab for lab in other.labels if lab not in self.labels)
        total = self.with_labels(labels).array + other.with_labels(labels).array
        return ConfusionCounts.from_array(labels, total)

    __add__ = merge


@dataclass(frozen=True, slots=True)
class ScoreHistogram:
    """Binary scores in fixed bins over [0, 1], split by true label.

    Bin i is `[edges[i], edges[i+1])`; the last bin is closed. In SQL: `width_bucket(score, edges)`.
    """

    edges: tuple[float, ...]
    pos_counts: tuple[int, ...]
    neg_counts: tuple[int, ...]

    def __post_init__(self) -> None:
        e = np.asarray(self.edges, dtype=np.float64)
        if e.ndim != 1 or e.size < 2 or not np.all(np.diff(e) > 0):
            raise ValueError("histogram edges must be at least two strictly increasing values")
        if e[0] != 0.0 or e[-1] != 1.0:
            raise ValueError("histogram edges must span [0, 1]")
        if len(self.pos_counts) != e.size - 1 or len(self.neg_counts) != e.size - 1:
            raise ValueError(f"histogram needs {e.size - 1} counts per label")
        if min(self.pos_counts) < 0 or min(self.neg_counts) < 0:
            raise ValueError("histogram counts must be non-negative")

    @staticmethod
    def uniform_edges(n_bins: int = DEFAULT_HISTOGRAM_BINS) -> tuple[float, ...]:
        if n_bins < 1:
            raise ValueError("n_bins must be positive")
        # i / n (correctly rounded) rather than i * step: equal fractions give equal floats, so the
        # edges of 10 bins are exactly edges of 100 bins too.
        return tuple(float(x) for x in np.arange(n_bins + 1) / n_bins)

    @classmethod
    def from_scores(
        cls,
        y_true: ArrayLike,
        y_score: ArrayLike,
        *,
        pos_label: Label = 1,
        edges: Sequence[float] | None = None,
    ) -> ScoreHistogram:
        """Bin positive-class scores (in [0, 1]) of rows with `y_true == pos_label` and of the rest."""
        t = as_1d(y_true, "y_true", numeric=False)
        s = as_1d(y_score, "y_score")
        check_same_length(y_true=t, y_score=s)
        check_probabilities(s, "y_score")
        e = np.asarray(cls.uniform_edges() if edges is None else edges, dtype=np.float64)
        k = e.size - 1
        idx = np.clip(np.searchsorted(e, s, side="right") - 1, 0, k - 1)
        pos = t == pos_label
        return cls(
            tuple(float(x) for x in e),
            tuple(int(c) for c in np.bincount(idx[pos], minlength=k)),
            tuple(int(c) for c in np.bincount(idx[~pos], minlength=k)),
        )

    @property
    def n(self) -> int:
        return int(sum(self.pos_counts) + sum(self.neg_counts))

    def merge(self, other: ScoreHistogram) -> ScoreHistogram:
        if self.edges != other.edges:
            raise ValueError("cannot merge histograms with different edges")
        return ScoreHistogram(
            self.edges,
            tuple(a + b for a, b in zip(self.pos_counts, other.pos_counts, strict=True)),
            tuple(a + b for a, b in zip(self.neg_counts, other.neg_counts, strict=True)),
        )

    __add__ = merge


def class_probabilities(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    labels: Sequence[Label] | None,
    pos_label: Label,
    ranking_only: bool = False,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Index of the true class per row and an (n, k) probability matrix.

    A 1-D `y_score` is P(y == pos_label) for a binary problem (columns: [other, pos_label]); a 2-D one
    has a column per label in `labels` order (default: sorted labels of `y_true`, which must then cover
    every column). `ranking_only`: a 1-D score may be any real (a margin); only its order is used.
    """
    t = as_1d(y_true, "y_true", numeric=False)
    s = np.asarray(y_score)
    if s.dtype.kind not in "biuf":
        raise ValueError(f"y_score must be numeric, got dtype {s.dtype}")
    s = s.astype(np.float64)
    if not np.all(np.isfinite(s)):
        raise ValueError("y_score contains NaN or infinite values")
    if s.ndim == 1:
        check_same_length(y_true=t, y_score=s)
        if not ranking_only:
            check_probabilities(s, "y_score")
        return (t == pos_label).astype(np.int64), np.column_stack([1.0 - s, s])
    if s.ndim != 2:
        raise ValueError(f"y_score must be 1-D or 2-D, got shape {s.shape}")
    check_same_length(y_true=t, y_score=s)
    check_probabilities(s, "y_score")
    lab = np.unique(t) if labels is None else np.asarray(list(labels))
    if lab.size != s.shape[1]:
        raise ValueError(f"y_score has {s.shape[1]} columns but there are {lab.size} labels {list(lab)}")
    if not np.allclose(s.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("rows of a 2-D y_score must sum to 1")
    index = {v.item() if isinstance(v, np.generic) else v: i for i, v in enumerate(lab)}
    try:
        true_idx = np.fromiter((index[v.item() if isinstance(v, np.generic) else v] for v in t), np.int64)
    except KeyError as exc:
        raise ValueError(f"y_true holds a value {exc.args[0]!r} outside labels {list(lab)}") from None
    return true_idx, s


@dataclass(frozen=True, slots=True)
class LogLossBrierSums:
    """Sums of per-row log loss and Brier score (exact; binary Brier is (p - y)², multiclass Σₖ)."""

    n: int
    sum_log_loss: float
    sum_brier: float

    def __post_init__(self) -> None:
        if self.n < 0 or self.sum_log_loss < 0 or self.sum_brier < 0:
            raise ValueError("LogLossBrierSums fields must be non-negative")

    @classmethod
    def from_probabilities(
        cls,
        y_true: ArrayLike,
        y_score: ArrayLike,
        *,
        labels: Sequence[Label] | None = None,
        pos_label: Label = 1,
    ) -> LogLossBrierSums:
        true_idx, proba = class_probabilities(y_true, y_score, labels=labels, pos_label=pos_label)
        eps = np.finfo(np.float64).eps  # sklearn clips to [eps, 1 - eps]
        p_true = np.clip(proba[np.arange(true_idx.size), true_idx], eps, 1 - eps)
        onehot = np.zeros_like(proba)
        onehot[np.arange(true_idx.size), true_idx] = 1.0
        sq = ((proba - onehot) ** 2).sum(axis=1)
        if proba.shape[1] == 2:
            sq = sq / 2.0  # binary Brier is (p - y)², the two columns each carry it once
        return cls(int(true_idx.size), float(-np.log(p_true).sum()), float(sq.sum()))

    def merge(self, other: LogLossBrierSums) -> LogLossBrierSums:
        return LogLossBrierSums(
            self.n + other.n, self.sum_log_loss + other.sum_log_loss, self.sum_brier + other.sum_brier
        )

    __add__ = merge
