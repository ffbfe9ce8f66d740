"""One contract for every registered change detector, anomaly detector and data-quality check.

For each registered name: stationary (seeded noise) or clean input gives few or no detections — the
allowance is stated per method below, with the reason; the same input and seed give the same result;
empty, constant, NaN-containing and single-value inputs give a clear result or a `ValueError`
(never another exception type); results serialise to JSON. A method registered without an entry in
the tables below fails `test_every_registered_method_is_covered`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest

from engine.algorithms.anomaly import ANOMALY_DETECTORS, detect
from engine.algorithms.changepoint import CHANGE_DETECTORS, make_detector
from engine.algorithms.quality import QUALITY_CHECKS, QualityCheck
from engine.algorithms.quality.columns import CategoryCheck, Completeness, RangeCheck, TypeCheck
from engine.algorithms.quality.rows import DuplicateCheck, FreshnessCheck
from engine.algorithms.quality.rules import Col, Compare, Implies, InSet, Matches, NotNull

SEEDS = range(5)

# False alarms allowed on 2 000 stationary points (N(0, 1), or Bernoulli(0.1) errors for DDM/EDDM),
# with default parameters. Measured over seeds 0-9: adwin 0, page_hinkley ≤ 1, ddm ≤ 3, kswin ≤ 5,
# cusum 4-5 (expected: in-control ARL ≈ 465 for k = 0.5, h = 5), eddm 0-7 (EDDM is known to be
# alarm-prone on low, stable error rates).
CHANGE_ALLOWANCE = {"adwin": 1, "page_hinkley": 2, "ddm": 4, "kswin": 7, "cusum": 8, "eddm": 9}

# Share of points flagged allowed on stationary noise (1 000 N(0, 1) points; 300 × 3 N(0, I) rows for
# the multivariate methods). IQR's fences flag 0.7 % of a normal sample by construction; EWMA's
# statistic is autocorrelated (one excursion flags a run of points) and its limits come from a
# 100-point reference, measured up to 1.9 %.
ANOMALY_ALLOWANCE = {
    "rolling_zscore": 0.015,
    "iqr": 0.015,
    "mad": 0.01,
    "ewma": 0.025,
    "seasonal": 0.01,
    "isolation_forest": 0.01,
    "lof": 0.01,
}

NOW = dt.datetime(2024, 6, 1, 12)


def _clean_frame(seed: int, n: int = 500) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 100, n)
    return pl.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(50, 5, n),
            "code": rng.choice(["a", "b", "c"], n).tolist(),
            "text": [f"{v:.3f}" for v in rng.normal(size=n)],
            "start": start,
            "end": start + rng.uniform(0, 5, n),
            "at": [NOW - dt.timedelta(seconds=float(s)) for s in rng.uniform(0, 3600, n)],
        }
    )


QUALITY_EXAMPLES: dict[str, Callable[[], QualityCheck]] = {
    "completeness": lambda: Completeness("x"),
    "range": lambda: RangeCheck("x", min=0, max=100),
    "type": lambda: TypeCheck("text", "numeric"),
    "categories": lambda: CategoryCheck("code", ("a", "b", "c")),
    "duplicates": lambda: DuplicateCheck(("id",)),
    "freshness": lambda: FreshnessCheck("at", NOW, dt.timedelta(hours=2)),
    "not_null": lambda: NotNull("code"),
    "in_set": lambda: InSet("code", ("a", "b", "c")),
    "matches": lambda: Matches("text", r"-?[0-9]+\.[0-9]{3}"),
    "compare": lambda: Compare("start", "<=", Col("end")),
    "implies": lambda: Implies(when=InSet("code", ("a",)), then=Compare("x", ">", 0)),
}


def test_every_registered_method_is_covered() -> None:
    assert set(CHANGE_ALLOWANCE) == set(CHANGE_DETECTORS.names())
    assert set(ANOMALY_ALLOWANCE) == set(ANOMALY_DETECTORS.names())
    assert set(QUALITY_EXAMPLES) == set(QUALITY_CHECKS.names())


def _either_result_or_value_error(call: Callable[[], Any]) -> Any:
    """Run `call`; a ValueError is an acceptable answer, any other exception fails the test."""
    try:
        result = call()
    except ValueError as exc:
        assert str(exc), "a ValueError must say what is wrong"
        return None
    json.dumps(result.to_dict())
    return result


# --- change detectors ------------------------------------------------------------------------------


def _stream(binary: bool, seed: int, n: int = 2_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(n) < 0.1).astype(float) if binary else rng.normal(size=n)


@pytest.mark.parametrize("name", CHANGE_DETECTORS.names())
@pytest.mark.parametrize("seed", SEEDS)
def test_change_detector_stationary_is_quiet_and_deterministic(name: str, seed: int) -> None:
    detector = make_detector(name)
    series = _stream(detector.binary, seed)
    result = detector.run(series)
    assert result.n_detections <= CHANGE_ALLOWANCE[name]
    assert make_detector(name).run(series).to_dict() == result.to_dict()
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


@pytest.mark.parametrize("name", CHANGE_DETECTORS.names())
def test_change_detector_edge_inputs(name: str) -> None:
    detector = make_detector(name)
    empty = detector.run([])
    assert (empty.n, empty.detections) == (0, ())
    constant = detector.run(np.zeros(500) if detector.binary else np.full(500, 3.25))
    assert constant.n_detections == 0
    single = detector.run([1.0])
    assert (single.n, single.n_detections) == (1, 0)
    with pytest.raises(ValueError):
        detector.run([0.0, np.nan, 1.0])
    with pytest.raises(ValueError):
        detector.update(float("inf"))
    json.dumps(single.to_dict())


# --- anomaly detectors -----------------------------------------------------------------------------


def _noise(multivariate: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(300, 3)) if multivariate else rng.normal(size=1_000)


@pytest.mark.parametrize("name", ANOMALY_DETECTORS.names())
@pytest.mark.parametrize("seed", SEEDS)
def test_anomaly_detector_stationary_is_quiet_and_deterministic(name: str, seed: int) -> None:
    multivariate = ANOMALY_DETECTORS.get(name).multivariate
    values = _noise(multivariate, seed)
    result = detect(name, values)
    assert result.n_anomalies <= ANOMALY_ALLOWANCE[name] * values.shape[0]
    assert result.is_anomaly.shape == (values.shape[0],)
    again = detect(name, values.copy())
    assert json.dumps(again.to_dict()) == json.dumps(result.to_dict())
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("name", ANOMALY_DETECTORS.names())
def test_anomaly_detector_edge_inputs(name: str) -> None:
    multivariate = ANOMALY_DETECTORS.get(name).multivariate

    def shaped(values: np.ndarray) -> np.ndarray:
        return np.repeat(values[:, None], 3, axis=1) if multivariate else values

    with pytest.raises(ValueError):
        detect(name, shaped(np.array([])))
    with pytest.raises(ValueError):
        detect(name, shaped(np.r_[np.zeros(200), np.nan]))
    for level in (7.0, 0.1, -1234.567):  # values whose means are not exact in binary floating point
        constant = _either_result_or_value_error(
            lambda level=level: detect(name, shaped(np.full(200, level)))
        )
        if constant is not None:
            assert constant.n_anomalies == 0
            json.dumps(constant.to_dict(), allow_nan=False)
    single = _either_result_or_value_error(lambda: detect(name, shaped(np.array([7.0]))))
    if single is not None:
        assert single.n_anomalies == 0
    _either_result_or_value_error(lambda: detect(name, shaped(np.array([1.0, 2.0]))))


# --- data-quality checks ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", QUALITY_CHECKS.names())
@pytest.mark.parametrize("seed", SEEDS)
def test_quality_check_clean_data_passes_and_is_deterministic(name: str, seed: int) -> None:
    check = QUALITY_EXAMPLES[name]()
    frame = _clean_frame(seed)
    result = check.evaluate(frame)
    assert (result.n_failed, result.passed, result.n_rows) == (0, True, frame.height)
    assert check.evaluate(frame.clone()).to_dict() == result.to_dict()
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("name", QUALITY_CHECKS.names())
def test_quality_check_edge_inputs(name: str) -> None:
    check = QUALITY_EXAMPLES[name]()
    frame = _clean_frame(0)
    empty = check.evaluate(frame.clear())
    assert (empty.n_rows, empty.n_failed, empty.failed_rate) == (0, 0, 0.0)
    json.dumps(empty.to_dict(), allow_nan=False)
    single = check.evaluate(frame.head(1))
    assert (single.n_rows, single.n_failed) == (1, 0)
    constant = frame.with_columns(pl.lit(50.0).alias("x"), pl.lit("a").alias("code"))
    assert check.evaluate(constant).n_failed == 0
    with_nan = frame.with_columns(
        pl.when(pl.col("id") % 7 == 0).then(float("nan")).otherwise(pl.col("x")).alias("x")
    )
    result = _either_result_or_value_error(lambda: check.evaluate(with_nan))
    if result is not None:
        assert 0 <= result.n_failed <= frame.height
    with pytest.raises(ValueError):
        check.evaluate(frame.select(pl.lit(1).alias("unrelated")))  # the columns the check needs are gone
    json.dumps(result.to_dict() if result is not None else {}, allow_nan=False)
