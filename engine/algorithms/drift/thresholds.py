"""Threshold strategies: how a drift statistic becomes a yes/no decision.

The statistics never see these (NannyML's separation): a method computes a `Statistic`; a strategy
decides. Two strategies:

* `FixedThreshold(value, alpha)` — for a *test* the value is the significance level and drift means
  ``p_value < value``; for a *distance* drift means ``statistic > value``; for a *combined* method
  (a test and an effect size, see `auto`) drift means ``p_value < alpha and statistic > value``.
* `CalibratedThreshold` — bounds ``mean ± k·σ`` of the same statistic computed over reference windows
  (e.g. each reference week against the whole reference); drift means the statistic leaves the band.
  It always looks at the statistic, also for tests (e.g. the KS D), because p-values of reference
  windows are not comparable across window sizes. Build it with `CalibratedThreshold.from_reference`.

`sustained_effect_floor` is the effect threshold of the sustained rule (a window pooled with the ones before
it): 0.05, raised to the classic floor's (0.1 on the window alone) multiple of the statistic's standard error,
capped at `z_cap` standard errors. Under no drift an effect size between two samples of sizes n and m
(normed Wasserstein, Jensen–Shannon) is ≈ sqrt(1/n + 1/m) times a variable whose distribution does not depend
on n or m (asymptotically; tests/algorithms/test_sustained_floor.py checks it with scipy), so a floor of at
least the classic rule's multiple of that scale, with a stricter p-value, should raise no more false alarms than
the classic rule (bench/results/drift_rules.md measures it, paired on the same streams); past `z_cap` the no-drift tail is negligible (the largest
no-drift normed Wasserstein over the bench's 72 000 seeded evaluations was 4.5 standard errors,
bench/results/drift_rules.md), so the floor stops growing and moderate shifts stay visible.

>>> round(sustained_effect_floor(20_000, 4_000, 1_000), 4)  # the window's noise dominates: ≈ 0.05
0.0535
>>> round(sustained_effect_floor(20_000, 20_000, 5_000), 4)  # the reference's noise counts: 5.5 standard errors
0.055
>>> sustained_effect_floor(10**9, 10**9, 10**9)  # large samples: the floor is 0.05
0.05
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["test", "distance", "combined"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The threshold that was applied and whether it was crossed."""

    threshold: float | None
    drift_detected: bool
    rule: str
    lower: float | None = None
    alpha: float | None = None


class ThresholdStrategy(Protocol):
    def decide(self, statistic: float, p_value: float | None, kind: Kind) -> Decision: ...


@dataclass(frozen=True, slots=True)
class FixedThreshold:
    value: float
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or self.value < 0:
            raise ValueError(f"threshold must be a finite non-negative number, got {self.value}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")

    def decide(self, statistic: float, p_value: float | None, kind: Kind) -> Decision:
        if kind in ("test", "combined") and p_value is None:
            raise ValueError(f"a {kind} result needs a p-value")
        if kind == "test":
            assert p_value is not None
            return Decision(self.value, bool(p_value < self.value), "p_value < threshold", alpha=self.value)
        if kind == "combined":
            assert p_value is not None
            drift = p_value < self.alpha and statistic > self.value
            return Decision(
                self.value, bool(drift), "p_value < alpha and statistic > threshold", alpha=self.alpha
            )
        return Decision(self.value, bool(statistic > self.value), "statistic > threshold")


@dataclass(frozen=True, slots=True)
class CalibratedThreshold:
    """Band ``[lower, upper]`` from reference windows; ``None`` leaves that side open."""

    upper: float | None
    lower: float | None = None

    @classmethod
    def from_reference(
        cls, reference_statistics: Sequence[float], k: float = 3.0, two_sided: bool = False
    ) -> CalibratedThreshold:
        """``mean + k·σ`` (and ``mean − k·σ`` if two-sided) of the statistic over reference windows."""
        values = [float(v) for v in reference_statistics if v is not None and math.isfinite(v)]
        if len(values) < 2:
            raise ValueError("calibration needs the statistic of at least two reference windows")
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        return cls(upper=mean + k * std, lower=mean - k * std if two_sided else None)

    def decide(self, statistic: float, p_value: float | None, kind: Kind) -> Decision:
        above = self.upper is not None and statistic > self.upper
        below = self.lower is not None and statistic < self.lower
        return Decision(self.upper, bool(above or below), "statistic outside calibrated band", self.lower)


SUSTAINED_BASE_EFFECT = 0.05
CLASSIC_EFFECT = 0.1
SUSTAINED_Z_CAP = 5.5


def sustained_effect_floor(
    n_reference: int, n_pooled: int, n_window: int, base: float = SUSTAINED_BASE_EFFECT,
    classic: float = CLASSIC_EFFECT, z_cap: float = SUSTAINED_Z_CAP,
) -> float:
    """Effect threshold of the sustained rule for a reference of `n_reference` values and a trailing span of
    `n_pooled` values ending with a window of `n_window`: ``max(base, min(z_cap·se_pooled,
    classic·se_pooled/se_window))`` with ``se = sqrt(1/n_reference + 1/n)``."""
    if min(n_reference, n_pooled, n_window) <= 0:
        raise ValueError("sample sizes must be positive")
    se_pooled = math.sqrt(1 / n_reference + 1 / n_pooled)
    se_window = math.sqrt(1 / n_reference + 1 / n_window)
    return max(base, min(z_cap * se_pooled, classic * se_pooled / se_window))
