"""Contract over every registered drift method: the same checks for all, no exceptions allowed.

For every univariate method (numeric and categorical) and every multivariate method:
identical inputs → no drift; the same seed → the same result; empty, constant, NaN-containing and
single-value inputs → a result or a ValueError (never another exception, never a RuntimeWarning);
results serialise to strict JSON.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import engine.algorithms.drift  # noqa: F401  (registers every method)
from engine.algorithms.drift.binning import bin_counts, count_categories, quantile_edges
from engine.algorithms.drift.method import DRIFT_METHODS, DriftResult, detect
from engine.algorithms.drift.multivariate import MULTIVARIATE_DRIFT_METHODS
from engine.algorithms.registry import UnknownMethodError

NUMERIC = [name for name, m in DRIFT_METHODS.items() if m.feature_type == "numeric"]
CATEGORICAL = [name for name, m in DRIFT_METHODS.items() if m.feature_type == "categorical"]
MULTIVARIATE = MULTIVARIATE_DRIFT_METHODS.names()


def numeric_sample(seed: int, n: int = 400) -> np.ndarray:
    return np.random.default_rng(seed).normal(5.0, 2.0, n)


def categorical_sample(seed: int, n: int = 400) -> np.ndarray:
    return np.random.default_rng(seed).choice(np.array(["no", "yes"]), n, p=[0.7, 0.3])


def matrix_sample(seed: int, n: int = 300) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3))


def outcome(call: Callable[[], DriftResult]) -> DriftResult | None:
    """The result, or None for a clear ValueError; anything else (or a RuntimeWarning) fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            result = call()
        except ValueError as exc:
            assert str(exc), "a ValueError must say what is wrong"
            return None
    assert isinstance(result, DriftResult)
    json.dumps(result.to_dict(), allow_nan=False)
    assert isinstance(result.drift_detected, bool)
    return result


def univariate(name: str) -> Callable[[Any, Any], DriftResult | None]:
    return lambda ref, cur: outcome(lambda: detect(name, ref, cur))


def multivariate(name: str) -> Callable[[Any, Any], DriftResult | None]:
    fn = MULTIVARIATE_DRIFT_METHODS.get(name)
    return lambda ref, cur: outcome(lambda: fn(ref, cur, 0))


CASES: list[Any] = (
    [pytest.param(univariate(n), numeric_sample, np.array([]), id=n) for n in NUMERIC]
    + [pytest.param(univariate(n), categorical_sample, np.array([], dtype=str), id=n) for n in CATEGORICAL]
    + [pytest.param(multivariate(n), matrix_sample, np.empty((0, 3)), id=n) for n in MULTIVARIATE]
)


@pytest.mark.parametrize(("run", "sample", "empty"), CASES)
def test_identical_inputs_do_not_drift(
    run: Callable[..., Any], sample: Callable[..., Any], empty: Any
) -> None:
    x = sample(1)
    result = run(x, x.copy())
    assert result is not None and not result.drift_detected


@pytest.mark.parametrize(("run", "sample", "empty"), CASES)
def test_deterministic_for_a_seed(run: Callable[..., Any], sample: Callable[..., Any], empty: Any) -> None:
    first = run(sample(2), sample(3))
    second = run(sample(2), sample(3))
    assert first is not None and second is not None
    assert first.to_dict() == second.to_dict()


@pytest.mark.parametrize(("run", "sample", "empty"), CASES)
def test_empty_input_is_a_clear_error(
    run: Callable[..., Any], sample: Callable[..., Any], empty: Any
) -> None:
    assert run(empty, sample(4)) is None
    assert run(sample(4), empty) is None


@pytest.mark.parametrize(("run", "sample", "empty"), CASES)
def test_constant_inputs(run: Callable[..., Any], sample: Callable[..., Any], empty: Any) -> None:
    x = sample(5)
    constant = np.repeat(x[:1], len(x), axis=0)
    same = run(constant, constant.copy())
    assert same is None or not same.drift_detected
    run(constant, x)  # a result or a clear error
    run(x, constant)


@pytest.mark.parametrize(("run", "sample", "empty"), CASES)
def test_missing_values(run: Callable[..., Any], sample: Callable[..., Any], empty: Any) -> None:
    x = sample(6)
    holed = x.astype(object) if x.dtype.kind == "U" else x.copy()
    holed[::7] = None if x.dtype.kind == "U" else np.nan
    run(sample(7), holed)
    run(holed, sample(7))
    all_missing = np.full(x.shape, None, dtype=object) if x.dtype.kind == "U" else np.full(x.shape, np.nan)
    assert run(sample(7), all_missing) is None or x.ndim == 2  # matrices may impute; vectors cannot


@pytest.mark.parametrize(("run", "sample", "empty"), CASES)
def test_single_values(run: Callable[..., Any], sample: Callable[..., Any], empty: Any) -> None:
    x = sample(8)
    one = x[:1]
    same = run(one, one.copy())
    assert same is None or not same.drift_detected
    run(one, x)
    run(x, one)


@pytest.mark.parametrize("name", [n for n, m in DRIFT_METHODS.items() if m.accepts_binned])
def test_binned_input_gives_the_same_kind_of_result(name: str) -> None:
    spec = DRIFT_METHODS.get(name)
    if spec.feature_type == "numeric":
        ref, cur = numeric_sample(9), numeric_sample(10)
        edges = quantile_edges(ref)
        ref_in, cur_in = bin_counts(ref, edges, with_sums=True), bin_counts(cur, edges, with_sums=True)
    else:
        ref_in, cur_in = count_categories(categorical_sample(9)), count_categories(categorical_sample(10))
    result = outcome(lambda: detect(name, ref_in, cur_in))
    assert result is not None and result.method == name and result.kind == spec.kind
    same = outcome(lambda: detect(name, ref_in, ref_in))
    assert same is not None and not same.drift_detected


def test_every_method_is_covered_and_unknown_names_list_the_known_ones() -> None:
    assert (
        len(NUMERIC) >= 11
        and len(CATEGORICAL) >= 7
        and set(MULTIVARIATE)
        == {
            "domain_classifier",
            "pca_reconstruction",
        }
    )
    with pytest.raises(UnknownMethodError, match=r"known: .*anderson_darling"):
        detect("nope", [1.0], [1.0])
