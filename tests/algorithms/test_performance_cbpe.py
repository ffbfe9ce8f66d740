"""Label-free estimation (CBPE style) tracks the realised metrics on a covariate-shifted stream."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from engine.algorithms.performance.cbpe import IsotonicCalibrator, estimate_performance, expected_roc_auc

CHUNK = 1000
N_CHUNKS = 20


@pytest.fixture(scope="module")
def stream() -> dict[str, object]:
    """A model, its calibrator and a stream of chunks under growing covariate shift.

    The pool is one joint distribution; each chunk over-samples rows near the decision boundary with a
    probability that depends on x only (through the model's margin), so P(y | x) is unchanged while the
    realised accuracy falls chunk by chunk.
    """
    X, y = make_classification(
        n_samples=120_000, n_features=10, n_informative=5, flip_y=0.05, class_sep=0.8, random_state=0
    )
    model = LogisticRegression(max_iter=1000).fit(X[:20_000], y[:20_000])
    ref_x, ref_y = X[20_000:40_000], y[20_000:40_000]
    calibrator = IsotonicCalibrator.fit(ref_y, model.predict_proba(ref_x)[:, 1])
    pool_x, pool_y = X[40_000:], y[40_000:]
    margin = np.abs(model.decision_function(pool_x))
    rng = np.random.default_rng(1)
    chunks = []
    for j in range(N_CHUNKS):
        hard_share = 0.9 * j / (N_CHUNKS - 1)
        weights = (1 - hard_share) + hard_share * 20 * np.exp(-2 * margin)  # x-only selection
        idx = rng.choice(pool_y.size, CHUNK, replace=False, p=weights / weights.sum())
        chunks.append((pool_x[idx], pool_y[idx]))
    return {"model": model, "calibrator": calibrator, "chunks": chunks}


@pytest.mark.parametrize(
    ("metric", "mae_bound"),
    [("accuracy", 0.025), ("precision", 0.04), ("recall", 0.04), ("f1", 0.035), ("roc_auc", 0.03)],
)
def test_estimate_tracks_realised_metric(stream: dict[str, object], metric: str, mae_bound: float) -> None:
    model: LogisticRegression = stream["model"]  # type: ignore[assignment]
    calibrator: IsotonicCalibrator = stream["calibrator"]  # type: ignore[assignment]
    realised, estimated, covered = [], [], 0
    for x, y in stream["chunks"]:  # type: ignore[attr-defined]
        score = model.predict_proba(x)[:, 1]
        pred = (score >= 0.5).astype(int)
        est = estimate_performance(calibrator.apply(score), scores=score, y_pred=pred, seed=0).metric(metric)
        truth = {
            "accuracy": skm.accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred, zero_division=0),
            "recall": skm.recall_score(y, pred, zero_division=0),
            "f1": skm.f1_score(y, pred, zero_division=0),
            "roc_auc": skm.roc_auc_score(y, score),
        }[metric]
        realised.append(truth)
        estimated.append(est.value)
        covered += est.lower <= truth <= est.upper
    realised_a, estimated_a = np.array(realised), np.array(estimated)
    mae = np.abs(realised_a - estimated_a).mean()
    r = np.corrcoef(realised_a, estimated_a)[0, 1]
    print(
        f"{metric}: MAE {mae:.4f}, Pearson r {r:.3f}, 95% band covers {covered}/{N_CHUNKS}, "
        f"realised range {realised_a.min():.3f}..{realised_a.max():.3f}"
    )
    assert realised_a.max() - realised_a.min() > 0.08  # the shift really moves the metric
    assert mae < mae_bound
    assert r > 0.8
    assert covered >= 0.75 * N_CHUNKS


def test_expected_counts_and_auc_by_definition() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(200)
    s = rng.random(200)
    pred = (s > 0.5).astype(int)
    est = estimate_performance(p, scores=s, y_pred=pred, n_draws=20)
    tn, fp, fn, tp = est.expected_confusion
    assert fn == pytest.approx(np.sum(p * (1 - pred)))
    assert tp == pytest.approx(np.sum(p * pred)) and fp == pytest.approx(np.sum((1 - p) * pred))
    assert est.metric("accuracy").value == pytest.approx((tp + tn) / 200)
    # brute-force O(n²) expectation ratio
    num = sum(
        p[i] * (1 - p[j]) * ((s[i] > s[j]) + 0.5 * (s[i] == s[j]))
        for i in range(200)
        for j in range(200)
        if i != j
    )
    den = sum(p[i] * (1 - p[j]) for i in range(200) for j in range(200) if i != j)
    assert expected_roc_auc(p, s) == pytest.approx(num / den, rel=1e-12)


def test_deterministic_and_serialisable() -> None:
    p = np.random.default_rng(2).random(500)
    a, b = estimate_performance(p, y_pred=p >= 0.5, seed=4), estimate_performance(p, y_pred=p >= 0.5, seed=4)
    assert a == b
    json.dumps(a.to_dict())
    cal = IsotonicCalibrator.fit([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    json.dumps(cal.to_dict())
    assert np.all(np.diff(cal.apply(np.linspace(0, 1, 50))) >= 0)


@pytest.mark.parametrize(
    "bad",
    [np.array([]), np.array([0.2, np.nan]), np.array([1.2, 0.5])],
)
def test_bad_input_is_value_error(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        estimate_performance(bad, y_pred=np.zeros(bad.size))


def test_deployed_decision_is_required() -> None:
    p = np.array([0.9, 0.4, 0.2])
    with pytest.raises(ValueError, match="deployed"):
        estimate_performance(p)
    with pytest.raises(ValueError, match="deployed"):
        estimate_performance(p, scores=p)
    at_model = estimate_performance(p, scores=np.array([0.6, 0.35, 0.1]), threshold=0.3, n_draws=10)
    assert at_model.expected_confusion[3] == pytest.approx(0.9 + 0.4)


def test_constant_probabilities_give_nan_auc_not_crash() -> None:
    est = estimate_performance(np.ones(10), y_pred=np.ones(10))
    assert np.isnan(est.metric("roc_auc").value)
    assert est.metric("accuracy").value == 1.0
    json.dumps(est.to_dict())
