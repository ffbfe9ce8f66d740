"""Descriptive statistics of one sample.

std is the sample standard deviation (ddof = 1); quartiles use numpy's linear interpolation; skew and
kurtosis are the bias-corrected sample estimates (as pandas' `skew`/`kurt`; kurtosis is excess, 0 for a
normal). Undefined values (std of one value, skew of fewer than 3 or of a constant sample, kurtosis of
fewer than 4) are NaN.

>>> describe([1.0, 2.0, 3.0, 4.0]).median
2.5
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from engine.algorithms.stats._common import is_constant, json_float, sample
from engine.algorithms.stats.registry import STAT_TESTS, OneSample

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class Description:
    n: int
    mean: float
    std: float
    min: float
    q1: float
    median: float
    q3: float
    max: float
    skew: float
    kurtosis: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (v if isinstance(v, int) else json_float(v)) for k, v in asdict(self).items()}


def describe(x: ArrayLike) -> Description:
    v = sample(x, "x")
    n = v.size
    q1, median, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    flat = is_constant(v)
    return Description(
        n=n,
        mean=float(v.mean()),
        std=float(v.std(ddof=1)) if n > 1 else NAN,
        min=float(v.min()),
        q1=float(q1),
        median=float(median),
        q3=float(q3),
        max=float(v.max()),
        skew=float(stats.skew(v, bias=False)) if n > 2 and not flat else NAN,
        kurtosis=float(stats.kurtosis(v, bias=False)) if n > 3 and not flat else NAN,
    )


STAT_TESTS.add("describe", OneSample(describe))
