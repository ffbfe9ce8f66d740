"""Count-based classification metrics against sklearn.metrics, raw form == aggregate form."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from engine.algorithms.performance import (
    CLASSIFICATION_METRICS,
    ClassificationAggregates,
    ClassificationData,
    ConfusionCounts,
    evaluate_classification,
)
from engine.algorithms.registry import UnknownMethodError

TOL = 1e-9


def _labels(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    noise = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < 0.7, y, noise)
    return y, pred


def _sk(name: str, y: np.ndarray, p: np.ndarray, labels: list[int]) -> float:
    rate, _, avg = name.partition("_")
    if name == "accuracy":
        return skm.accuracy_score(y, p)
    if name == "balanced_accuracy":
        return skm.balanced_accuracy_score(y, p)
    fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[rate]
    return fn(y, p, labels=labels, average=avg or "binary", zero_division=0)


COUNT_METRICS = [
    "accuracy",
    "balanced_accuracy",
    *[f"{r}{a}" for r in ("precision", "recall", "f1") for a in ("", "_macro", "_micro", "_weighted")],
]


@pytest.mark.parametrize(
    ("name", "k"),
    [(n, k) for n in COUNT_METRICS for k in (2, 4) if k == 2 or n not in ("precision", "recall", "f1")],
)
def test_count_metrics_match_sklearn(name: str, k: int) -> None:
    y, p = _labels(k, 500, k)
    labels = list(range(k))
    got = evaluate_classification([name], ClassificationData(y, y_pred=p))[name].value
    assert got == pytest.approx(_sk(name, y, p, labels), abs=TOL)


@pytest.mark.parametrize("rate", ["precision", "recall", "f1"])
def test_per_class_matches_sklearn(rate: str) -> None:
    y, p = _labels(3, 400, 3)
    fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[rate]
    want = fn(y, p, average=None, zero_division=0)
    got = CLASSIFICATION_METRICS.get(f"{rate}_per_class").from_raw(ClassificationData(y, y_pred=p))
    np.testing.assert_allclose(got.per_class, want, atol=TOL)


def test_specificity_binary_and_macro() -> None:
    y, p = _labels(5, 300, 2)
    tn, fp, _fn, _tp = skm.confusion_matrix(y, p).ravel()
    got = evaluate_classification(["specificity"], ClassificationData(y, y_pred=p))["specificity"]
    assert got.value == pytest.approx(tn / (tn + fp), abs=TOL)
    y, p = _labels(6, 300, 3)
    mcm = skm.multilabel_confusion_matrix(y, p)
    spec = mcm[:, 0, 0] / (mcm[:, 0, 0] + mcm[:, 0, 1])
    data = ClassificationData(y, y_pred=p)
    res = evaluate_classification(["specificity_macro", "specificity_micro"], data)
    assert res["specificity_macro"].value == pytest.approx(spec.mean(), abs=TOL)
    pooled = mcm[:, 0, 0].sum() / (mcm[:, 0, 0].sum() + mcm[:, 0, 1].sum())
    assert res["specificity_micro"].value == pytest.approx(pooled, abs=TOL)


def test_confusion_matrix_matches_sklearn_with_string_labels() -> None:
    rng = np.random.default_rng(7)
    y = rng.choice(["cat", "dog", "eel"], 200)
    p = rng.choice(["cat", "dog", "eel"], 200)
    got = evaluate_classification(["confusion_matrix"], ClassificationData(y, y_pred=p))["confusion_matrix"]
    assert got.labels == ("cat", "dog", "eel")
    np.testing.assert_array_equal(
        np.array(got.matrix), skm.confusion_matrix(y, p, labels=["cat", "dog", "eel"])
    )


def test_zero_division_convention() -> None:
    # class 2 is never predicted and never occurs as actual; class 1 never predicted
    data = ClassificationData([0, 0, 1], y_pred=[0, 0, 0], labels=(0, 1, 2))
    res = evaluate_classification(["precision_per_class", "recall_per_class", "f1_per_class"], data)
    assert res["precision_per_class"].per_class == pytest.approx((2 / 3, 0.0, 0.0))
    assert res["recall_per_class"].per_class == pytest.approx((1.0, 0.0, 0.0))
    want = skm.f1_score([0, 0, 1], [0, 0, 0], labels=[0, 1, 2], average=None, zero_division=0)
    np.testing.assert_allclose(res["f1_per_class"].per_class, want, atol=TOL)


def test_binary_metric_on_window_without_positive_label() -> None:
    res = evaluate_classification(["precision", "recall"], ClassificationData([0, 0], y_pred=[0, 0]))
    assert res["precision"].value == 0.0 and res["recall"].value == 0.0


def test_aggregate_equals_raw_after_merging_parts() -> None:
    y, p = _labels(11, 900, 3)
    parts = [ConfusionCounts.from_labels(y[i : i + 300], p[i : i + 300]) for i in range(0, 900, 300)]
    merged = parts[0] + parts[1] + parts[2]
    agg = ClassificationAggregates(confusion=merged)
    data = ClassificationData(y, y_pred=p)
    for name, metric in CLASSIFICATION_METRICS.items():
        if name in ("precision", "recall", "f1", "specificity"):
            continue
        try:
            raw = metric.from_raw(data)
        except ValueError:
            continue  # score metrics: no y_score here
        assert metric.from_aggregates(agg).value == pytest.approx(raw.value, abs=TOL), name


def test_merge_aligns_different_label_sets() -> None:
    a = ConfusionCounts.from_labels([0, 1], [0, 1])
    b = ConfusionCounts.from_labels([2, 2], [2, 0])
    merged = a + b
    want = ConfusionCounts.from_labels([0, 1, 2, 2], [0, 1, 2, 0])
    assert merged.with_labels(want.labels) == want


def test_missing_input_and_unknown_metric_are_clear() -> None:
    with pytest.raises(ValueError, match="y_pred"):
        evaluate_classification(["accuracy"], ClassificationData([0, 1]))
    with pytest.raises(UnknownMethodError, match="accuracy"):
        CLASSIFICATION_METRICS.get("acuracy")
    with pytest.raises(ValueError, match="outside labels"):
        ConfusionCounts.from_labels([0, 5], [0, 1], labels=[0, 1])
