"""Comparing a metric between two independent groups of rows (two versions, or two values of a segment) from
mergeable window state: difference b − a, a confidence interval and a two-sided p-value.

- Rates (accuracy, precision, recall, positive rate): two-proportion z test (`stats.ab.two_proportion_z`) —
  p-value with the pooled
  standard error (statsmodels `proportions_ztest`), interval with the unpooled (Wald) one (statsmodels
  `confint_proportions_2indep(method="wald")`).
- ROC AUC: DeLong's variance from the score histograms of positives and negatives (exact DeLong for the
  binned scores: rows of a bin are ties), z test on the difference of independent AUCs.
- Means with a second moment in the state (MAE: Σ|e| and Σe² = Σ|e|²; mean error: Σe, Σe²): Welch's t
  (Welch–Satterthwaite degrees of freedom), as scipy's `ttest_ind(equal_var=False)`.
- MSE is the mean of e², so the same Welch t on e² (its variance needs Σe⁴, aggregated from the raw rows).
  RMSE = √MSE: equal RMSEs ⇔ equal MSEs, so its p-value is the MSE test's; its interval is the delta method
  (Var √m̂ ≈ Var m̂ / (4m)) with the Welch–Satterthwaite degrees of freedom of those variances.
- Ratios of counts without a closed form (F1, macro averages): parametric bootstrap of the confusion
  matrices (multinomial redraws of each group's cells, seeded), percentile interval, p-value 2·min tail
  share of the differences around 0.

>>> d = two_proportions(80, 100, 90, 100)
>>> round(d.difference, 2), round(d.p_value, 3), d.test
(0.1, 0.048, 'two_proportion_z')
>>> auc, var = delong_binned([0, 1, 3], [3, 1, 0])
>>> round(auc, 4)
0.9688
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from engine.algorithms.stats.ab import two_proportion_z


@dataclass(frozen=True, slots=True)
class Difference:
    a: float | None
    b: float | None
    difference: float | None  # b − a
    lower: float | None
    upper: float | None
    p_value: float | None
    test: str


def _f(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _none(test: str, a: float | None = None, b: float | None = None) -> Difference:
    d = b - a if a is not None and b is not None else None
    return Difference(a, b, d, None, None, None, test)


def two_proportions(x_a: int, n_a: int, x_b: int, n_b: int, confidence: float = 0.95) -> Difference:
    """The stats family's `two_proportion_z` with the groups swapped, so the difference reads b − a."""
    test = "two_proportion_z"
    if n_a <= 0 or n_b <= 0:
        return _none(test, x_a / n_a if n_a > 0 else None, x_b / n_b if n_b > 0 else None)
    r = two_proportion_z(x_b, n_b, x_a, n_a, confidence)
    return Difference(x_a / n_a, x_b / n_b, r.estimate, r.ci_low, r.ci_high, float(r.p_value), test)


def welch(n_a: int, mean_a: float, var_a: float, n_b: int, mean_b: float, var_b: float,
          confidence: float = 0.95) -> Difference:
    """Welch's t on two means with their sample variances (ddof = 1)."""
    test = "welch_t"
    if n_a < 2 or n_b < 2:
        return _none(test, mean_a if n_a else None, mean_b if n_b else None)
    va, vb = var_a / n_a, var_b / n_b
    diff = mean_b - mean_a
    if not all(map(math.isfinite, (va, vb, va + vb, diff))):  # moments beyond float range: no test
        return _none(test, mean_a, mean_b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(mean_a, mean_b, diff, diff, diff, 1.0 if diff == 0 else 0.0, test)
    df = _welch_df(va, vb, n_a, n_b)
    t = diff / se
    p = float(2 * stats.t.sf(abs(t), df))
    q = float(stats.t.ppf(0.5 + confidence / 2, df))
    return Difference(mean_a, mean_b, diff, diff - q * se, diff + q * se, p, test)


def _welch_df(va: float, vb: float, n_a: int, n_b: int) -> float:
    """Welch–Satterthwaite degrees of freedom, (va + vb)² / (va²/(n_a − 1) + vb²/(n_b − 1)), computed on the
    shares of va + vb so that no square leaves the float range."""
    ra, rb = va / (va + vb), vb / (va + vb)
    return 1.0 / (ra * ra / (n_a - 1) + rb * rb / (n_b - 1))


def rmse_difference(n_a: int, mse_a: float, var_a: float, n_b: int, mse_b: float, var_b: float,
                    confidence: float = 0.95) -> Difference:
    """RMSE b − a from each group's MSE (mean of e²) and sample variance of e²: the MSE Welch test's p-value,
    a delta-method interval."""
    test = "welch_t_mse_delta"
    mse = welch(n_a, mse_a, var_a, n_b, mse_b, var_b, confidence)
    ra = math.sqrt(mse_a) if n_a and math.isfinite(mse_a) else None
    rb = math.sqrt(mse_b) if n_b and math.isfinite(mse_b) else None
    if mse.p_value is None or ra is None or rb is None:
        return _none(test, ra, rb)
    # Var(√m̂) ≈ Var(m̂)/(4m); a group whose errors are all 0 has no spread (0/0 is taken as 0)
    va = var_a / n_a / (4 * mse_a) if mse_a > 0 else 0.0
    vb = var_b / n_b / (4 * mse_b) if mse_b > 0 else 0.0
    diff, se = rb - ra, math.sqrt(va + vb)
    if se == 0:
        return Difference(ra, rb, diff, diff, diff, mse.p_value, test)
    df = _welch_df(va, vb, n_a, n_b)
    q = float(stats.t.ppf(0.5 + confidence / 2, df))
    return Difference(ra, rb, diff, diff - q * se, diff + q * se, mse.p_value, test)


def moments(n: int, total: float, total_sq: float) -> tuple[float, float]:
    """Mean and sample variance (ddof = 1) from n, Σx, Σx²."""
    if n <= 0:
        return float("nan"), float("nan")
    mean = total / n
    var = max(total_sq - n * mean * mean, 0.0) / (n - 1) if n > 1 else float("nan")
    return mean, var


def delong_binned(pos: ArrayLike, neg: ArrayLike) -> tuple[float, float]:
    """(AUC, DeLong variance) of scores given as counts per ordered bin (ties within a bin)."""
    P = np.asarray(pos, dtype=np.float64)
    N = np.asarray(neg, dtype=np.float64)
    m, n = P.sum(), N.sum()
    if m < 1 or n < 1:
        return float("nan"), float("nan")
    v10 = (np.cumsum(N) - N + 0.5 * N) / n  # per positive in the bin: share of negatives ranked below
    v01 = (m - np.cumsum(P) + 0.5 * P) / m  # per negative in the bin: share of positives ranked above
    auc = float((P * v10).sum() / m)
    s10 = float((P * (v10 - auc) ** 2).sum() / (m - 1)) if m > 1 else 0.0
    s01 = float((N * (v01 - auc) ** 2).sum() / (n - 1)) if n > 1 else 0.0
    return auc, s10 / m + s01 / n


def auc_difference(pos_a: ArrayLike, neg_a: ArrayLike, pos_b: ArrayLike, neg_b: ArrayLike,
                   confidence: float = 0.95) -> Difference:
    test = "delong_z_binned"
    a, va = delong_binned(pos_a, neg_a)
    b, vb = delong_binned(pos_b, neg_b)
    if not (math.isfinite(a) and math.isfinite(b)):
        return _none(test, _f(a), _f(b))
    diff, se = b - a, math.sqrt(va + vb)
    if se == 0:
        return Difference(a, b, diff, diff, diff, 1.0 if diff == 0 else 0.0, test)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return Difference(a, b, diff, diff - z * se, diff + z * se, float(2 * stats.norm.sf(abs(diff) / se)), test)


def bootstrap_confusion(
    conf_a: ArrayLike, conf_b: ArrayLike, metric: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    confidence: float = 0.95, n_draws: int = 2000, seed: int = 0,
) -> Difference:
    """`metric` maps (draws, K, K) confusion matrices (rows actual, columns predicted) to (draws,) values."""
    test = "bootstrap_confusion"
    A = np.asarray(conf_a, dtype=np.float64)
    B = np.asarray(conf_b, dtype=np.float64)
    na, nb = int(A.sum()), int(B.sum())
    va = float(metric(A[None])[0]) if na else float("nan")
    vb = float(metric(B[None])[0]) if nb else float("nan")
    if na == 0 or nb == 0:
        return _none(test, _f(va), _f(vb))
    rng = np.random.default_rng(seed)
    k = A.shape[0]
    da = rng.multinomial(na, A.ravel() / na, size=n_draws).reshape(n_draws, k, k).astype(np.float64)
    db = rng.multinomial(nb, B.ravel() / nb, size=n_draws).reshape(n_draws, k, k).astype(np.float64)
    d = metric(db) - metric(da)
    d = d[np.isfinite(d)]
    diff = vb - va
    if not d.size:
        return _none(test, _f(va), _f(vb))
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(d, [alpha, 1 - alpha])
    p = float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean())))
    return Difference(va, vb, diff, float(lo), float(hi), p, test)


def f1_binary(conf: NDArray[np.float64]) -> NDArray[np.float64]:
    tp, fp, fn = conf[:, 1, 1], conf[:, 0, 1], conf[:, 1, 0]
    den = 2 * tp + fp + fn
    return np.divide(2 * tp, den, out=np.full(tp.shape, np.nan), where=den > 0)


def _per_class(conf: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    diag = np.diagonal(conf, axis1=1, axis2=2)
    pred, true = conf.sum(axis=1), conf.sum(axis=2)
    prec = np.divide(diag, pred, out=np.zeros_like(diag), where=pred > 0)
    rec = np.divide(diag, true, out=np.zeros_like(diag), where=true > 0)
    f1 = np.divide(2 * diag, pred + true, out=np.zeros_like(diag), where=(pred + true) > 0)
    return prec, rec, f1


def precision_macro(conf: NDArray[np.float64]) -> NDArray[np.float64]:
    return _per_class(conf)[0].mean(axis=1)


def recall_macro(conf: NDArray[np.float64]) -> NDArray[np.float64]:
    return _per_class(conf)[1].mean(axis=1)


def f1_macro(conf: NDArray[np.float64]) -> NDArray[np.float64]:
    return _per_class(conf)[2].mean(axis=1)
