"""Contract suite: every registered performance metric, statistical test and trend method goes through
the same checks — deterministic; empty / constant / NaN / single-value inputs give a result or a
ValueError, never another exception; results serialise to strict JSON; valid results stay in range."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pytest

from engine.algorithms.performance import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    ClassificationAggregates,
    ClassificationData,
    ConfusionCounts,
    LogLossBrierSums,
    RegressionSums,
    ScoreHistogram,
    evaluate_regression_sums,
)
from engine.algorithms.stats import STAT_TESTS
from engine.algorithms.stats.registry import (
    KSample,
    OneSample,
    Paired,
    Proportions,
    ScoredSamples,
    Table,
    TwoSample,
)
from engine.algorithms.trend import TREND_METHODS


class Serialisable(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def outcome(call: Callable[[], Serialisable]) -> dict[str, Any] | None:
    """The result as strict JSON-able dict, or None for a ValueError. Anything else fails the test."""
    try:
        result = call()
    except ValueError as exc:
        assert str(exc), "ValueError without a message"
        return None
    d = result.to_dict()
    json.dumps(d, allow_nan=False)
    return d


def deterministic(call: Callable[[], Serialisable]) -> dict[str, Any] | None:
    first, second = outcome(call), outcome(call)
    assert first == second
    return first


# ---------------------------------------------------------------- classification

RNG = np.random.default_rng(20240601)
Y_BIN = RNG.integers(0, 2, 200)
S_BIN = np.clip(0.3 * Y_BIN + RNG.uniform(0, 0.7, 200), 0, 1)
P_BIN = (S_BIN >= 0.5).astype(int)
Y_MC = RNG.integers(0, 3, 150)
P_MC = np.where(RNG.random(150) < 0.6, Y_MC, RNG.integers(0, 3, 150))
_logits = RNG.normal(size=(150, 3)) + np.eye(3)[Y_MC]
S_MC = np.exp(_logits) / np.exp(_logits).sum(axis=1, keepdims=True)

RAW_CASES: dict[str, ClassificationData] = {
    "binary": ClassificationData(Y_BIN, y_pred=P_BIN, y_score=S_BIN),
    "multiclass": ClassificationData(Y_MC, y_pred=P_MC, y_score=S_MC),
    "strings": ClassificationData(np.array(["a", "b", "b"]), y_pred=np.array(["a", "a", "b"]), pos_label="b"),
    "empty": ClassificationData(
        np.array([], dtype=int), y_pred=np.array([], dtype=int), y_score=np.array([])
    ),
    "constant": ClassificationData(np.ones(20, int), y_pred=np.ones(20, int), y_score=np.full(20, 0.7)),
    "single": ClassificationData(np.array([1]), y_pred=np.array([0]), y_score=np.array([0.3])),
    "nan_score": ClassificationData(Y_BIN[:5], y_pred=P_BIN[:5], y_score=np.r_[np.nan, S_BIN[1:5]]),
    "nan_label": ClassificationData(np.array([0.0, np.nan, 1.0]), y_pred=np.array([0.0, 1.0, 1.0])),
}
MUST_FAIL = {"empty", "nan_label"}


def _aggregates(data: ClassificationData) -> ClassificationAggregates:
    return ClassificationAggregates(
        confusion=ConfusionCounts.from_labels(data.y_true, data.y_pred),
        histogram=ScoreHistogram.from_scores(data.y_true, data.y_score),
        sums=LogLossBrierSums.from_probabilities(data.y_true, data.y_score),
    )


AGG_CASES: dict[str, ClassificationAggregates] = {
    "binary": _aggregates(RAW_CASES["binary"]),
    "constant": _aggregates(RAW_CASES["constant"]),
    "single": _aggregates(RAW_CASES["single"]),
    "empty": ClassificationAggregates(
        confusion=ConfusionCounts((0, 1), ((0, 0), (0, 0))),
        histogram=ScoreHistogram(ScoreHistogram.uniform_edges(), (0,) * 100, (0,) * 100),
        sums=LogLossBrierSums(0, 0.0, 0.0),
    ),
    "nothing": ClassificationAggregates(),
}


def _in_range(d: dict[str, Any], lower: float | None, upper: float | None) -> None:
    value = d["value"]
    if value is None:
        assert d["details"].get("undefined"), "a None value must say why"
        return
    if lower is not None:
        assert value >= lower - 1e-12
    if upper is not None:
        assert value <= upper + 1e-12
    for v in d["per_class"].values():
        assert v is None or lower is None or v >= lower - 1e-12


@pytest.mark.parametrize("case", sorted(RAW_CASES))
@pytest.mark.parametrize("name", CLASSIFICATION_METRICS.names())
def test_classification_raw_contract(name: str, case: str) -> None:
    metric = CLASSIFICATION_METRICS.get(name)
    d = deterministic(lambda: metric.from_raw(RAW_CASES[case]))
    if case in MUST_FAIL:
        assert d is None
    if case == "binary":
        assert d is not None, f"{name} must compute on a complete binary input"
    if d is not None:
        _in_range(d, metric.lower, metric.upper)


@pytest.mark.parametrize("case", sorted(AGG_CASES))
@pytest.mark.parametrize("name", CLASSIFICATION_METRICS.names())
def test_classification_aggregate_contract(name: str, case: str) -> None:
    metric = CLASSIFICATION_METRICS.get(name)
    d = deterministic(lambda: metric.from_aggregates(AGG_CASES[case]))
    if case in ("empty", "nothing"):
        assert d is None
    if case == "binary":
        assert d is not None
        raw = metric.from_raw(RAW_CASES["binary"]).value
        assert abs(d["value"] - raw) <= d["error_bound"] + 1e-9
    if d is not None:
        _in_range(d, metric.lower, metric.upper)


# ---------------------------------------------------------------- regression

Y_REG = RNG.normal(10, 3, 100)
REG_CASES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "normal": (Y_REG, Y_REG + RNG.normal(0, 1, 100)),
    "empty": (np.array([]), np.array([])),
    "constant": (np.full(10, 2.0), np.full(10, 2.0)),
    "zeros": (np.zeros(5), np.array([0.0, 1.0, 0.0, 0.0, 2.0])),
    "single": (np.array([3.0]), np.array([4.0])),
    "nan": (np.array([1.0, np.nan]), np.array([1.0, 2.0])),
    "inf": (np.array([1.0, 2.0]), np.array([np.inf, 2.0])),
    "mismatch": (np.array([1.0, 2.0]), np.array([1.0])),
}


@pytest.mark.parametrize("case", sorted(REG_CASES))
@pytest.mark.parametrize("name", REGRESSION_METRICS.names())
def test_regression_contract(name: str, case: str) -> None:
    metric = REGRESSION_METRICS.get(name)
    y, p = REG_CASES[case]
    d = deterministic(lambda: metric.from_raw(y, p))
    if case in ("empty", "nan", "inf", "mismatch"):
        assert d is None
    else:
        assert d is not None
        _in_range(d, metric.lower, metric.upper)
    if case not in ("nan", "inf", "mismatch"):
        sums = RegressionSums.from_arrays(y, p)
        from_sums = deterministic(lambda: evaluate_regression_sums([name], sums)[name])
        if d is None or metric.from_sums is None:
            assert from_sums is None
        else:
            assert from_sums is not None
            if d["value"] is None:
                assert from_sums["value"] is None
            else:
                assert from_sums["value"] == pytest.approx(d["value"], rel=1e-9, abs=1e-9)


# ---------------------------------------------------------------- statistical tests and trends

GOOD = RNG.normal(0, 1, 40)
OTHER = RNG.normal(0.5, 1, 35)
NOISE = RNG.normal(0, 1, 40)
VECTORS: dict[str, np.ndarray] = {
    "normal": GOOD,
    "empty": np.array([]),
    "constant": np.full(12, 3.0),
    "single": np.array([1.5]),
    "nan": np.r_[GOOD[:10], np.nan],
}
Y_AB = RNG.integers(0, 2, 120)
S_AB = np.clip(0.4 * Y_AB + RNG.uniform(0, 0.6, 120), 0, 1)


def _stat_calls(spec: Any, case: str) -> Callable[[], Serialisable]:
    v = VECTORS[case]
    if isinstance(spec, OneSample):
        return lambda: spec.fn(v)
    if isinstance(spec, TwoSample):
        return lambda: spec.fn(v, OTHER if case == "normal" else v)
    if isinstance(spec, KSample):
        return lambda: spec.fn([v, OTHER, GOOD[:7]] if case == "normal" else [v, v])
    if isinstance(spec, Paired):
        return lambda: spec.fn(v, v + NOISE[: v.size] if case == "normal" else v)
    if isinstance(spec, Table):
        tables = {
            "normal": np.array([[20, 30, 12], [25, 18, 30]]),
            "empty": np.zeros((0, 0)),
            "constant": np.full((2, 2), 5),
            "single": np.array([[3]]),
            "nan": np.array([[1.0, np.nan], [2.0, 3.0]]),
        }
        return lambda: spec.fn(tables[case])
    if isinstance(spec, Proportions):
        counts = {
            "normal": (40, 100, 55, 100),
            "empty": (0, 0, 0, 0),
            "constant": (10, 10, 10, 10),
            "single": (1, 1, 0, 1),
            "nan": (math.nan, 10, 3, 10),
        }
        return lambda: spec.fn(*counts[case])
    assert isinstance(spec, ScoredSamples)
    samples = {
        "normal": (Y_AB, S_AB, Y_AB, np.clip(S_AB + 0.3 * NOISE[0], 0, 1)),
        "empty": (np.array([]),) * 4,
        "constant": (np.ones(10), np.full(10, 0.5), np.ones(10), np.full(10, 0.5)),
        "single": (np.array([1]), np.array([0.4]), np.array([0]), np.array([0.2])),
        "nan": (Y_AB, np.r_[np.nan, S_AB[1:]], Y_AB, S_AB),
    }
    return lambda: spec.fn(*samples[case])


@pytest.mark.parametrize("case", sorted(VECTORS))
@pytest.mark.parametrize("name", STAT_TESTS.names())
def test_stat_test_contract(name: str, case: str) -> None:
    d = deterministic(_stat_calls(STAT_TESTS.get(name), case))
    if case in ("empty", "nan"):
        assert d is None
    if case == "normal":
        assert d is not None
        if "p_value" in d:
            assert d["p_value"] is not None and 0.0 <= d["p_value"] <= 1.0


@pytest.mark.parametrize("name", ["welch_t", "mann_whitney"])
def test_identical_samples_show_no_difference(name: str) -> None:
    spec = STAT_TESTS.get(name)
    assert isinstance(spec, TwoSample)
    assert spec.fn(GOOD, GOOD).p_value == pytest.approx(1.0)


@pytest.mark.parametrize("case", sorted(VECTORS))
@pytest.mark.parametrize("name", TREND_METHODS.names())
def test_trend_method_contract(name: str, case: str) -> None:
    fn = TREND_METHODS.get(name)
    d = deterministic(lambda: fn(VECTORS[case], None, 0.95))
    if case in ("empty", "nan", "single"):
        assert d is None
    else:
        assert d is not None and 0.0 <= d["p_value"] <= 1.0
