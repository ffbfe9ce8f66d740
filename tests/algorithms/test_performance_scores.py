"""Score metrics: raw forms exact against sklearn; histogram forms within the bound they report."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from engine.algorithms.performance import (
    CLASSIFICATION_METRICS,
    ClassificationAggregates,
    ClassificationData,
    LogLossBrierSums,
    ScoreHistogram,
    evaluate_classification,
    evaluate_classification_aggregates,
)
from engine.algorithms.performance.scores import ece_raw

TOL = 1e-9


def _binary(seed: int, n: int = 2000, sep: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + sep * (2 * y - 1))))
    return y, s


def _ece_oracle(y: np.ndarray, s: np.ndarray, n_bins: int) -> float:
    idx = np.minimum((s * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = idx == b
        if m.any():
            total += m.sum() / s.size * abs(y[m].mean() - s[m].mean())
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_raw_scores_match_sklearn(seed: int) -> None:
    y, s = _binary(seed)
    data = ClassificationData(y, y_score=s)
    res = evaluate_classification(["roc_auc", "average_precision", "log_loss", "brier", "ece"], data)
    assert res["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, s), abs=TOL)
    assert res["average_precision"].value == pytest.approx(skm.average_precision_score(y, s), abs=TOL)
    assert res["log_loss"].value == pytest.approx(skm.log_loss(y, s), abs=TOL)
    assert res["brier"].value == pytest.approx(skm.brier_score_loss(y, s), abs=TOL)
    assert res["ece"].value == pytest.approx(_ece_oracle(y, s, 10), abs=TOL)


def test_ties_in_raw_scores_match_sklearn() -> None:
    y, s = _binary(4, 1000)
    s = np.round(s, 1)  # heavy ties
    data = ClassificationData(y, y_score=s)
    res = evaluate_classification(["roc_auc", "average_precision"], data)
    assert res["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, s), abs=TOL)
    assert res["average_precision"].value == pytest.approx(skm.average_precision_score(y, s), abs=TOL)


def test_multiclass_raw_scores_match_sklearn() -> None:
    rng = np.random.default_rng(9)
    n, k = 1500, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    data = ClassificationData(y, y_score=proba)
    res = evaluate_classification(["roc_auc", "average_precision", "log_loss", "brier"], data)
    assert res["roc_auc"].value == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"), abs=TOL
    )
    onehot = label_binarize(y, classes=list(range(k)))
    assert res["average_precision"].value == pytest.approx(
        skm.average_precision_score(onehot, proba, average="macro"), abs=TOL
    )
    assert res["log_loss"].value == pytest.approx(skm.log_loss(y, proba), abs=TOL)
    assert res["brier"].value == pytest.approx(((proba - onehot) ** 2).sum(axis=1).mean(), abs=TOL)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("name", ["roc_auc", "average_precision", "brier", "ece"])
def test_histogram_metric_within_reported_bound(seed: int, name: str) -> None:
    y, s = _binary(seed, n=5000, sep=0.5 + 0.5 * seed)
    hist = ScoreHistogram.from_scores(y, s)
    got = evaluate_classification_aggregates([name], ClassificationAggregates(histogram=hist))[name]
    exact = evaluate_classification([name], ClassificationData(y, y_score=s))[name].value
    oracle = {
        "roc_auc": skm.roc_auc_score(y, s),
        "average_precision": skm.average_precision_score(y, s),
        "brier": skm.brier_score_loss(y, s),
        "ece": exact,
    }[name]
    assert abs(exact - oracle) < TOL
    assert abs(got.value - oracle) <= got.error_bound + 1e-12
    assert got.error_bound < 0.01, got.error_bound


def test_histogram_merges_to_the_same_histogram() -> None:
    y, s = _binary(5, 3000)
    parts = [ScoreHistogram.from_scores(y[i : i + 1000], s[i : i + 1000]) for i in range(0, 3000, 1000)]
    assert parts[0] + parts[1] + parts[2] == ScoreHistogram.from_scores(y, s)


def test_histogram_bins_are_half_open_with_closed_last_bin() -> None:
    h = ScoreHistogram.from_scores([1, 1, 0], [0.0, 1.0, 0.5], edges=(0.0, 0.5, 1.0))
    assert h.pos_counts == (1, 1) and h.neg_counts == (0, 1)


def test_loss_sums_merge_equal_raw() -> None:
    y, s = _binary(6, 3000)
    parts = [
        LogLossBrierSums.from_probabilities(y[i : i + 1000], s[i : i + 1000]) for i in range(0, 3000, 1000)
    ]
    agg = ClassificationAggregates(sums=parts[0] + parts[1] + parts[2])
    res = evaluate_classification_aggregates(["log_loss", "brier"], agg)
    assert res["log_loss"].value == pytest.approx(skm.log_loss(y, s), abs=TOL)
    assert res["brier"].value == pytest.approx(skm.brier_score_loss(y, s), abs=TOL)
    assert res["brier"].error_bound == 0.0


def test_single_class_auc_is_nan_with_reason() -> None:
    res = CLASSIFICATION_METRICS.get("roc_auc").from_raw(
        ClassificationData([1, 1, 1], y_score=[0.2, 0.4, 0.9])
    )
    assert np.isnan(res.value) and "single class" in res.details["undefined"]
    assert res.to_dict()["value"] is None


def test_ece_on_perfectly_calibrated_bins_is_zero() -> None:
    s = np.repeat([0.25, 0.75], 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert ece_raw(y == 1, s) == pytest.approx(0.0)


def test_bad_scores_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ScoreHistogram.from_scores([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="sum to 1"):
        evaluate_classification(["log_loss"], ClassificationData([0, 1, 2], y_score=np.full((3, 3), 0.5)))
    with pytest.raises(ValueError, match="different edges"):
        ScoreHistogram.from_scores([0], [0.5]) + ScoreHistogram.from_scores([0], [0.5], edges=(0.0, 1.0))
