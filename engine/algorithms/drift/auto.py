"""Automatic method choice: a significance test *and* an effect size, at every sample size.

Evidently 0.7 switches on the reference size: up to 1000 rows it uses KS (numeric), chi-square
(categorical) or a z-test (binary) with p < 0.05; above, normed Wasserstein (numeric) or
Jensen–Shannon (categorical) with threshold 0.1. The switch exists because p-values alone flag
everything at large n: with a million rows a shift of 0.01 standard deviations is "significant"
(p < 1e-5) though no one would act on it. A distance alone has the opposite problem at small n:
its sampling noise alone can exceed 0.1 (e.g. JS over many categories with a few hundred rows).

driftline's rule uses both, with no size switch, so the decision does not jump at n = 1000:

    drift  ⇔  p_value < alpha (0.05)  and  effect > min_effect (0.1)

=========== ===================================================== ===============================
feature     test (p-value)                                        effect size (statistic)
=========== ===================================================== ===============================
numeric     ``ks`` (binned counts: the conservative binned KS)    ``wasserstein_normed``
binary      ``z_test`` (two-proportion, pooled)                   ``jensen_shannon_categorical``
categorical ``chi_square`` (> 2 categories)                       ``jensen_shannon_categorical``
=========== ===================================================== ===============================

At small n the test is the binding condition (it accounts for sampling noise); at large n the effect
size is (it says whether the change matters). Both conditions are reported in the details, and the
result's ``statistic`` is the effect size, ``p_value`` the test's p-value (which Benjamini–Hochberg
adjusts across features, see `multiple_testing`). Everything works from binned counts as well as
raw samples, so a window can be judged from the aggregates SQL returns.
"""

from __future__ import annotations

from engine.algorithms.drift.binning import (
    CategoricalInput,
    NumericInput,
    binned_pair,
    count_categories,
    is_binned,
)
from engine.algorithms.drift.categorical import chi_square, jensen_shannon_categorical, z_test
from engine.algorithms.drift.ecdf import compare_ecdfs
from engine.algorithms.drift.method import Statistic, register
from engine.algorithms.drift.numeric_distances import wasserstein_normed
from engine.algorithms.drift.numeric_tests import ks
from engine.algorithms.drift.samples import raw_pair, raw_scale

MIN_EFFECT = 0.1


def _combine(test_name: str, test: Statistic, effect_name: str, effect: Statistic) -> Statistic:
    details = dict(effect.details)
    details.update(
        test_method=test_name,
        test_statistic=test.value,
        effect_method=effect_name,
    )
    if "approximation_bound" in test.details:
        details["test_approximation_bound"] = test.details["approximation_bound"]
    return Statistic(effect.value, test.p_value, details)


@register("auto_numeric", "numeric", "combined", MIN_EFFECT, accepts_binned=True)
def auto_numeric(reference: NumericInput, current: NumericInput) -> Statistic:
    """KS test and normed Wasserstein effect size: drift when both p < alpha and effect > 0.1."""
    if is_binned(reference, current):
        ref_b, cur_b = binned_pair(reference, current)
        return _combine("ks", ks(ref_b, cur_b), "wasserstein_normed", wasserstein_normed(ref_b, cur_b))
    ref, cur, details = raw_pair(reference, current, "auto_numeric")
    comparison = compare_ecdfs(ref, cur)  # one sort for both statistics
    scale = raw_scale(ref, cur)
    details.update(wasserstein_raw=comparison.wasserstein, scale=scale)
    test = Statistic(comparison.ks_statistic, comparison.ks_p_value)
    effect = Statistic(comparison.wasserstein / scale, None, details)
    return _combine("ks", test, "wasserstein_normed", effect)


@register("auto_categorical", "categorical", "combined", MIN_EFFECT, accepts_binned=True)
def auto_categorical(reference: CategoricalInput, current: CategoricalInput) -> Statistic:
    """z-test (binary) or chi-square and Jensen–Shannon effect size: drift when both agree."""
    ref, cur = count_categories(reference), count_categories(current)
    n_categories = len(set(ref.counts) | set(cur.counts))
    test_name, test_fn = ("z_test", z_test) if n_categories <= 2 else ("chi_square", chi_square)
    effect = jensen_shannon_categorical(ref, cur)
    return _combine(test_name, test_fn(ref, cur), "jensen_shannon_categorical", effect)
