"""Result types and input checks shared by the statistical tests.

NaN policy for every test: inputs with NaN or inf are rejected with a ValueError (missing values are
the caller's to drop or impute, explicitly). Degenerate but valid inputs (e.g. a constant sample for a
correlation) give a result whose undefined fields are NaN, with `details["undefined"]` saying why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


def json_float(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _json(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return json_float(float(value))
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class TestResult:
    """Outcome of one statistical test. `estimate` is the test's effect (mean difference, correlation,
    slope, rate difference, ...), with a confidence interval where the test provides one."""

    __test__ = False  # not a pytest class

    test: str
    statistic: float
    p_value: float
    n: int
    estimate: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    confidence: float = 0.95
    df: float = float("nan")
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "statistic": json_float(self.statistic),
            "p_value": json_float(self.p_value),
            "n": int(self.n),
            "estimate": json_float(self.estimate),
            "ci_low": json_float(self.ci_low),
            "ci_high": json_float(self.ci_high),
            "confidence": self.confidence,
            "df": json_float(self.df),
            "details": _json(dict(self.details)),
        }


def sample(values: ArrayLike, name: str, *, min_n: int = 1) -> NDArray[np.float64]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if arr.size < min_n:
        raise ValueError(f"{name} needs at least {min_n} values, got {arr.size}")
    return arr


def check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def is_constant(x: NDArray[np.float64]) -> bool:
    return bool(x.size == 0 or np.ptp(x) == 0.0)
