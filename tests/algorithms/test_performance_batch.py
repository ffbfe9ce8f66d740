"""The vectorised batch metrics equal the per-element aggregate metrics on every element (to 1e-12),
including empty elements (NaN in the batch, an error per element) and degenerate tables; and on random
raw data, both equal scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from engine.algorithms.performance import (
    ClassificationAggregates,
    ConfusionCounts,
    LogLossBrierSums,
    RegressionSums,
    ScoreHistogram,
    evaluate_classification_aggregates,
    evaluate_regression_sums,
)
from engine.algorithms.performance.batch import (
    CLASSIFICATION_BATCH_METRICS,
    ClassificationBatch,
    evaluate_classification_batch,
)
from engine.algorithms.performance.batch_regression import (
    REGRESSION_BATCH_METRICS,
    RegressionSumsBatch,
    evaluate_regression_batch,
)
from engine.algorithms.registry import UnknownMethodError

HISTOGRAM_NAMES = ("roc_auc", "average_precision", "ece")
CONFUSION_NAMES = [
    n for n in CLASSIFICATION_BATCH_METRICS.names() if n not in (*HISTOGRAM_NAMES, "log_loss", "brier")
]


def _same(a: float, b: float, name: str) -> None:
    if math.isnan(b):
        assert math.isnan(a), f"{name}: {a} != NaN"
    else:
        assert abs(a - b) <= 1e-12 * max(1.0, abs(b)), f"{name}: {a} != {b}"


def _random_confusion(rng: np.random.Generator, b: int, k: int) -> np.ndarray:
    m = rng.integers(0, 6, (b, k, k)) * (rng.random((b, k, k)) < 0.6)
    m[0] = 0  # an empty element
    m[1] = 0
    m[1, 0, 0] = 3  # one class only
    if k > 1:
        m[2] = 0
        m[2, :, 1] = 2  # one predicted class only
    return m.astype(np.int64)


@pytest.mark.parametrize(("k", "seed"), [(2, 1), (2, 2), (3, 3), (5, 4), (9, 5)])
def test_confusion_metrics_equal_per_element(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = tuple(range(k)) if k != 3 else ("a", "b", "c")
    m = _random_confusion(rng, 60, k)
    names = [n for n in CONFUSION_NAMES if k == 2 or n not in ("precision", "recall", "f1", "specificity")]
    batch = ClassificationBatch(labels, confusion=m, pos_label=labels[-1])
    got = evaluate_classification_batch(names, batch)
    for i in range(len(m)):
        if m[i].sum() == 0:
            for name in names:
                assert math.isnan(got[name].values[i]), name
            continue
        agg = ClassificationAggregates(
            confusion=ConfusionCounts.from_array(labels, m[i]), pos_label=labels[-1]
        )
        for name, mv in evaluate_classification_aggregates(names, agg).items():
            _same(float(got[name].values[i]), mv.value, name)
            assert got[name].error_bounds[i] == 0.0
            if mv.per_class:
                pc = got[name].per_class
                assert pc is not None
                for a, b in zip(pc[i], mv.per_class, strict=True):
                    _same(float(a), b, name)


def test_binary_rates_need_two_labels_with_pos_label() -> None:
    batch = ClassificationBatch((0, 1, 2), confusion=np.ones((2, 3, 3), np.int64))
    with pytest.raises(ValueError, match="two labels"):
        evaluate_classification_batch(["precision"], batch)
    with pytest.raises(UnknownMethodError, match="known"):
        evaluate_classification_batch(["nope"], batch)
    with pytest.raises(ValueError, match="shape"):
        ClassificationBatch((0, 1), confusion=np.ones((2, 3, 3), np.int64))
    with pytest.raises(ValueError, match="non-negative"):
        ClassificationBatch((0, 1), confusion=-np.ones((2, 2, 2), np.int64))


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_roc_auc_and_losses_equal_per_element(seed: int) -> None:
    rng = np.random.default_rng(seed)
    b, bins = 80, 100
    pos = rng.integers(0, 4, (b, bins)) * (rng.random((b, bins)) < rng.random((b, 1)))
    neg = rng.integers(0, 4, (b, bins)) * (rng.random((b, bins)) < rng.random((b, 1)))
    pos[0], neg[1] = 0, 0  # single-class elements
    pos[2], neg[2] = 0, 0  # empty
    loss_n = rng.integers(0, 50, b)
    loss_n[3] = 0
    ll = rng.random(b) * loss_n
    br = rng.random(b) * loss_n / 3
    batch = ClassificationBatch(
        (0, 1), pos_hist=pos, neg_hist=neg, loss_n=loss_n, log_loss_sum=ll, brier_sum=br
    )
    got = evaluate_classification_batch(["roc_auc", "log_loss", "brier"], batch)
    edges = ScoreHistogram.uniform_edges(bins)
    for i in range(b):
        if pos[i].sum() and neg[i].sum():
            h = ScoreHistogram(edges, tuple(pos[i].tolist()), tuple(neg[i].tolist()))
            mv = evaluate_classification_aggregates(["roc_auc"], ClassificationAggregates(histogram=h))[
                "roc_auc"
            ]
            _same(float(got["roc_auc"].values[i]), mv.value, "roc_auc")
            _same(float(got["roc_auc"].error_bounds[i]), mv.error_bound, "roc_auc bound")
        else:
            assert math.isnan(got["roc_auc"].values[i]) and got["roc_auc"].error_bounds[i] == 0.0
        if loss_n[i]:
            sums = LogLossBrierSums(int(loss_n[i]), float(ll[i]), float(br[i]))
            res = evaluate_classification_aggregates(
                ["log_loss", "brier"], ClassificationAggregates(sums=sums)
            )
            for name, mv in res.items():
                _same(float(got[name].values[i]), mv.value, name)
        else:
            assert math.isnan(got["log_loss"].values[i]) and math.isnan(got["brier"].values[i])


@pytest.mark.parametrize("seed", [4, 5])
def test_average_precision_and_ece_equal_per_element(seed: int) -> None:
    rng = np.random.default_rng(seed)
    b, bins = 60, 100
    pos = rng.integers(0, 5, (b, bins)) * (rng.random((b, bins)) < rng.random((b, 1)))
    neg = rng.integers(0, 5, (b, bins)) * (rng.random((b, bins)) < rng.random((b, 1)))
    pos[0] = 0  # no positives: AP undefined, ECE defined
    neg[1] = 0  # no negatives: both defined
    pos[2], neg[2] = 0, 0  # empty: both undefined
    got = evaluate_classification_batch(["average_precision", "ece"], ClassificationBatch((0, 1), pos_hist=pos, neg_hist=neg))
    edges = ScoreHistogram.uniform_edges(bins)
    for i in range(b):
        h = ScoreHistogram(edges, tuple(pos[i].tolist()), tuple(neg[i].tolist()))
        for name in ("average_precision", "ece"):
            if h.n == 0:
                assert math.isnan(got[name].values[i]) and got[name].error_bounds[i] == 0.0
                continue
            mv = evaluate_classification_aggregates([name], ClassificationAggregates(histogram=h))[name]
            if math.isnan(mv.value):
                assert math.isnan(got[name].values[i]) and got[name].error_bounds[i] == 0.0, (name, i)
                continue
            _same(float(got[name].values[i]), mv.value, name)
            _same(float(got[name].error_bounds[i]), mv.error_bound, f"{name} bound")


def test_average_precision_and_ece_bound_sklearn_and_numpy_on_raw_scores() -> None:
    """The histogram intervals contain the raw-score values: scikit-learn's average precision, and the
    10-bin ECE computed here with numpy."""
    rng = np.random.default_rng(12)
    b, n, bins = 30, 400, 100
    scores = rng.beta(2, 3, (b, n))
    y = rng.random((b, n)) < np.clip(scores + rng.normal(0, 0.15, (b, 1)), 0, 1)
    idx = np.minimum((scores * bins).astype(int), bins - 1)
    pos = np.stack([np.bincount(idx[i][y[i]], minlength=bins) for i in range(b)])
    neg = np.stack([np.bincount(idx[i][~y[i]], minlength=bins) for i in range(b)])
    got = evaluate_classification_batch(["average_precision", "ece"], ClassificationBatch((0, 1), pos_hist=pos, neg_hist=neg))
    for i in range(b):
        ap = skm.average_precision_score(y[i], scores[i])
        assert abs(got["average_precision"].values[i] - ap) <= got["average_precision"].error_bounds[i] + 1e-12
        coarse = np.minimum((scores[i] * 10).astype(int), 9)
        gap = np.bincount(coarse, weights=y[i] - scores[i], minlength=10)
        ece = np.abs(gap).sum() / n
        assert abs(got["ece"].values[i] - ece) <= got["ece"].error_bounds[i] + 1e-12
        assert got["ece"].error_bounds[i] > 0 and got["average_precision"].error_bounds[i] > 0


def test_ece_needs_bins_that_refine_the_calibration_bins() -> None:
    h = np.ones((2, 15), dtype=np.int64)
    with pytest.raises(ValueError, match="refine"):
        evaluate_classification_batch(["ece"], ClassificationBatch((0, 1), pos_hist=h, neg_hist=h))


def test_batch_on_raw_data_equals_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, (10, 200))
    p = np.where(rng.random((10, 200)) < 0.6, y, rng.integers(0, 3, (10, 200)))
    m = np.stack([ConfusionCounts.from_labels(y[i], p[i], labels=(0, 1, 2)).array for i in range(10)])
    got = evaluate_classification_batch(
        ["f1_weighted", "balanced_accuracy"], ClassificationBatch((0, 1, 2), m)
    )
    for i in range(10):
        want = skm.f1_score(y[i], p[i], average="weighted", zero_division=0)
        assert got["f1_weighted"].values[i] == pytest.approx(want, abs=1e-12)
        assert got["balanced_accuracy"].values[i] == pytest.approx(
            skm.balanced_accuracy_score(y[i], p[i]), abs=1e-12
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_regression_equals_per_element(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(50):
        n = int(rng.integers(0, 30)) if i > 3 else (0, 1, 5, 5)[i]
        t = rng.normal(0, 2, n)
        if i == 2:
            t = np.full(n, 1.5)  # constant y
        if i == 3:
            t = np.zeros(n)  # MAPE undefined
        pred = t + rng.normal(0, 1, n) if i != 2 else t.copy()
        parts.append(RegressionSums.from_arrays(t, pred))
    fields = (
        "n",
        "sum_err",
        "sum_abs_err",
        "sum_sq_err",
        "sum_ape",
        "n_ape",
        "sum_sape",
        "n_sape",
        "sum_y",
        "sum_y2",
    )
    batch = RegressionSumsBatch(*(np.array([float(getattr(s, f)) for s in parts]) for f in fields))
    names = REGRESSION_BATCH_METRICS.names()
    got = evaluate_regression_batch(names, batch)
    for i, s in enumerate(parts):
        if s.n == 0:
            assert all(math.isnan(got[n].values[i]) for n in names)
            continue
        for name, mv in evaluate_regression_sums(names, s).items():
            _same(float(got[name].values[i]), mv.value, name)


@pytest.mark.parametrize("table_max", [1 << 22, 10])
def test_average_precision_large_counts_table_and_digamma_agree(table_max: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Daily buckets hold 10⁵–10⁶ rows: the harmonic-number table (and, beyond its size, digamma) give the
    per-element (digamma) values."""
    from engine.algorithms.performance import batch as batch_module

    monkeypatch.setattr(batch_module, "_HARMONIC_TABLE_MAX", table_max)
    rng = np.random.default_rng(21)
    pos = rng.integers(0, 3_000, (6, 100))
    neg = rng.integers(0, 20_000, (6, 100))
    pos[1, :90] = 0  # few positives among many negatives
    got = evaluate_classification_batch(["average_precision"], ClassificationBatch((0, 1), pos_hist=pos, neg_hist=neg))
    edges = ScoreHistogram.uniform_edges(100)
    for i in range(6):
        h = ScoreHistogram(edges, tuple(pos[i].tolist()), tuple(neg[i].tolist()))
        mv = evaluate_classification_aggregates(["average_precision"], ClassificationAggregates(histogram=h))
        assert got["average_precision"].values[i] == pytest.approx(mv["average_precision"].value, rel=1e-11, abs=1e-12)
        assert got["average_precision"].error_bounds[i] == pytest.approx(
            mv["average_precision"].error_bound, rel=1e-9, abs=1e-12
        )
