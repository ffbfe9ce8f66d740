"""A/B comparison of two model versions on a metric, with a confidence interval.

- `two_proportion_z` for rates (accuracy, conversion, error rate): estimate p_a - p_b with a Wald
  (unpooled) interval; z and p-value use the pooled rate under H0 (as statsmodels' `proportions_ztest`).
  If both rates are 0 or both 1, there is no evidence of a difference: z = 0, p = 1.
- `bootstrap_score_diff` for AUC-like metrics without a closed-form variance: metric(a) - metric(b) over
  seeded bootstrap resamples, resampling within each class (so every resample has both classes);
  percentile interval; p-value = 2·min(P*(d ≤ 0), P*(d ≥ 0)) from the resamples, floored at 1/B.
  `paired=True` resamples the same rows for both versions (both scored on the same labelled rows).

>>> round(two_proportion_z(90, 100, 80, 100).estimate, 3)
0.1
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from engine.algorithms.performance.registry import CLASSIFICATION_METRICS, ClassificationData
from engine.algorithms.stats._common import TestResult, check_confidence, sample
from engine.algorithms.stats.registry import STAT_TESTS, Proportions, ScoredSamples

SCORE_METRICS = ("roc_auc", "average_precision", "log_loss", "brier")


def two_proportion_z(
    successes_a: int, n_a: int, successes_b: int, n_b: int, confidence: float = 0.95
) -> TestResult:
    check_confidence(confidence)
    for name, s, n in (("a", successes_a, n_a), ("b", successes_b, n_b)):
        if not all(math.isfinite(v) and float(v).is_integer() for v in (s, n)):
            raise ValueError(f"version {name}: counts must be whole numbers, got {s}/{n}")
        if n <= 0 or not 0 <= s <= n:
            raise ValueError(
                f"version {name}: need integer counts 0 <= successes <= n and n > 0, got {s}/{n}"
            )
    pa, pb = successes_a / n_a, successes_b / n_b
    diff = pa - pb
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z, p = (diff / se0, 2 * stats.norm.sf(abs(diff / se0))) if se0 > 0 else (0.0, 1.0)
    half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    return TestResult(
        "two_proportion_z",
        float(z),
        p,
        int(n_a + n_b),
        diff,
        diff - half,
        diff + half,
        confidence,
        details={"rate_a": pa, "rate_b": pb, "pooled_rate": pooled},
    )


def _metric(name: str, y: NDArray[np.int64], s: NDArray[np.float64]) -> float:
    return CLASSIFICATION_METRICS.get(name).from_raw(ClassificationData(y, y_score=s)).value


def _binary(
    y_true: ArrayLike, score: ArrayLike, version: str
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    y, s = sample(y_true, f"y_true_{version}"), sample(score, f"score_{version}")
    if y.size != s.size:
        raise ValueError(f"version {version}: y_true and score differ in length")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"version {version}: y_true must be 0/1")
    if y.min() == y.max():
        raise ValueError(f"version {version}: y_true needs both classes")
    return y.astype(np.int64), s


def _stratified(rng: np.random.Generator, y: NDArray[np.int64]) -> NDArray[np.int64]:
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    return np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])


def bootstrap_score_diff(
    y_true_a: ArrayLike,
    score_a: ArrayLike,
    y_true_b: ArrayLike,
    score_b: ArrayLike,
    metric: str = "roc_auc",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    paired: bool = False,
) -> TestResult:
    check_confidence(confidence)
    if metric not in SCORE_METRICS:
        raise ValueError(f"metric must be one of {SCORE_METRICS}, got {metric!r}")
    if n_resamples < 100:
        raise ValueError("n_resamples must be at least 100")
    ya, sa = _binary(y_true_a, score_a, "a")
    yb, sb = _binary(y_true_b, score_b, "b")
    if paired and not np.array_equal(ya, yb):
        raise ValueError("paired comparison needs the same labelled rows for both versions")
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_resamples)
    for i in range(n_resamples):
        ia = _stratified(rng, ya)
        ib = ia if paired else _stratified(rng, yb)
        diffs[i] = _metric(metric, ya[ia], sa[ia]) - _metric(metric, yb[ib], sb[ib])
    estimate = _metric(metric, ya, sa) - _metric(metric, yb, sb)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    tail = float(min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    p = 1.0 if np.all(diffs == 0) else min(1.0, max(2.0 * tail, 1.0 / n_resamples))
    return TestResult(
        "bootstrap_score_diff",
        float(estimate),
        float(p),
        int(ya.size + (0 if paired else yb.size)),
        float(estimate),
        float(low),
        float(high),
        confidence,
        details={
            "metric": metric,
            "n_resamples": n_resamples,
            "seed": seed,
            "paired": paired,
            "bootstrap_std": float(diffs.std(ddof=1)),
        },
    )


STAT_TESTS.add("two_proportion_z", Proportions(two_proportion_z))
STAT_TESTS.add("bootstrap_score_diff", ScoredSamples(bootstrap_score_diff))
