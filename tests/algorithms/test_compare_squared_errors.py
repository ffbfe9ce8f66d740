"""MSE / RMSE comparison from the squared errors' moments: Welch's t on e² as scipy on the rows, RMSE with the
same p-value and a delta-method interval that covers the true RMSE difference at about its nominal rate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from engine.algorithms.compare import rmse_difference, welch


def _moments(e: np.ndarray) -> tuple[int, float, float]:
    sq = e**2
    return sq.size, float(sq.mean()), float(sq.var(ddof=1))


def test_mse_is_welch_on_squared_errors_and_rmse_shares_its_p_value() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1.0, 400), rng.standard_t(5, 300) * 1.2
    t = stats.ttest_ind(b**2, a**2, equal_var=False)
    mse = welch(*_moments(a), *_moments(b))
    rmse = rmse_difference(*_moments(a), *_moments(b))
    assert mse.p_value == pytest.approx(t.pvalue, rel=1e-9)
    assert rmse.p_value == mse.p_value and rmse.test == "welch_t_mse_delta"
    assert rmse.difference == pytest.approx(np.sqrt((b**2).mean()) - np.sqrt((a**2).mean()), rel=1e-12)


def test_degenerate_groups() -> None:
    zero = rmse_difference(10, 0.0, 0.0, 10, 4.0, 1.0)  # a group whose errors are all 0 has no spread
    assert zero.a == 0.0 and zero.b == 2.0 and zero.lower is not None and zero.lower < 2.0 < zero.upper  # type: ignore[operator]
    single = rmse_difference(1, 1.0, float("nan"), 10, 4.0, 1.0)
    assert single.p_value is None and single.lower is None


def test_delta_interval_coverage() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(400):
        a, b = rng.normal(0, 1.0, 300), rng.normal(0, 1.3, 300)
        d = rmse_difference(*_moments(a), *_moments(b))
        covered += d.lower <= 0.3 <= d.upper  # type: ignore[operator]
    assert 0.91 <= covered / 400 <= 0.98
