"""Property tests (hypothesis): metrics stay in range, the confusion-count path equals the raw path,
histogram metrics contain the exact value within their reported bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from engine.algorithms.performance import (
    CLASSIFICATION_METRICS,
    ClassificationAggregates,
    ClassificationData,
    ConfusionCounts,
    RegressionSums,
    ScoreHistogram,
    evaluate_regression,
    evaluate_regression_sums,
)

labels_pairs = st.integers(2, 4).flatmap(
    lambda k: st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=60)
)
COUNT_NAMES = [
    name
    for name in CLASSIFICATION_METRICS.names()
    if name.split("_")[0] in ("accuracy", "balanced", "precision", "recall", "f1", "specificity", "confusion")
]


@settings(max_examples=80, deadline=None)
@given(labels_pairs)
def test_count_metrics_in_range_and_paths_agree(pairs: list[tuple[int, int]]) -> None:
    y = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    data = ClassificationData(y, y_pred=p)
    halves = ConfusionCounts.from_labels(y[::2], p[::2])
    if len(y) > 1:
        halves = halves + ConfusionCounts.from_labels(y[1::2], p[1::2])
    agg = ClassificationAggregates(confusion=halves)
    present = set(y) | set(p)
    binary_ok = len(present | {1}) <= 2  # binary metrics read pos_label 1
    for name in COUNT_NAMES:
        metric = CLASSIFICATION_METRICS.get(name)
        if not binary_ok and name in ("precision", "recall", "f1", "specificity"):
            with pytest.raises(ValueError):
                metric.from_raw(data)
            with pytest.raises(ValueError):
                metric.from_aggregates(agg)
            continue
        raw, fromagg = metric.from_raw(data), metric.from_aggregates(agg)
        assert 0.0 <= raw.value <= 1.0, name
        assert fromagg.value == pytest.approx(raw.value, abs=1e-12), name
        assert all(0.0 <= v <= 1.0 for v in raw.per_class)
    acc = CLASSIFICATION_METRICS.get("accuracy").from_raw(data).value
    assert acc == pytest.approx(skm.accuracy_score(y, p), abs=1e-12)
    f1 = CLASSIFICATION_METRICS.get("f1_macro").from_raw(data).value
    assert f1 == pytest.approx(skm.f1_score(y, p, average="macro", zero_division=0), abs=1e-12)


scored = st.lists(st.tuples(st.booleans(), st.floats(0.0, 1.0, allow_nan=False)), min_size=2, max_size=80)


@settings(max_examples=80, deadline=None)
@given(scored)
def test_histogram_bounds_contain_exact_values(rows: list[tuple[bool, float]]) -> None:
    y = np.array([int(a) for a, _ in rows])
    s = np.array([b for _, b in rows])
    assume(0 < y.sum() < y.size)
    hist = ScoreHistogram.from_scores(y, s, edges=ScoreHistogram.uniform_edges(20))
    agg = ClassificationAggregates(histogram=hist)
    data = ClassificationData(y, y_score=s)
    names = ["roc_auc", "brier", "ece"]
    if np.unique(s).size == s.size:  # the AP interval is guaranteed for tie-free scores
        names.append("average_precision")
    for name in names:
        metric = CLASSIFICATION_METRICS.get(name)
        exact, approx = metric.from_raw(data).value, metric.from_aggregates(agg)
        assert abs(approx.value - exact) <= approx.error_bound + 1e-12, name
        assert 0.0 <= approx.value <= 1.0


regression_rows = st.lists(
    st.tuples(st.floats(-1e3, 1e3, allow_nan=False), st.floats(-1e3, 1e3, allow_nan=False)),
    min_size=1,
    max_size=50,
)


@settings(max_examples=80, deadline=None)
@given(regression_rows)
def test_regression_sums_equal_raw_and_ranges(rows: list[tuple[float, float]]) -> None:
    y = np.array([a for a, _ in rows])
    p = np.array([b for _, b in rows])
    names = ["mse", "rmse", "mae", "bias", "smape", "mape", "r2"]
    raw = evaluate_regression(names, y, p)
    sums = RegressionSums.from_arrays(y[: len(y) // 2], p[: len(y) // 2]) + RegressionSums.from_arrays(
        y[len(y) // 2 :], p[len(y) // 2 :]
    )
    agg = evaluate_regression_sums(names, sums)
    for name in ("mse", "rmse", "mae", "bias", "smape"):
        assert agg[name].value == pytest.approx(raw[name].value, rel=1e-9, abs=1e-9), name
    assert raw["mse"].value >= 0 and raw["mae"].value >= 0 and 0 <= raw["smape"].value <= 2
    assert raw["r2"].value <= 1.0 + 1e-12
