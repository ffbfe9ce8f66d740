"""Two-sided tabular CUSUM (Page 1954; Montgomery, *Statistical Quality Control*, §9.1).

River has no CUSUM, so it is written here. With a reference mean μ0 and standard deviation σ, each
observation is standardised, z_t = (x_t − μ0)/σ, and two one-sided sums are kept in units of σ:

    C⁺_t = max(0, C⁺_{t−1} + z_t − k)        C⁻_t = max(0, C⁻_{t−1} − z_t − k)

A change is signalled when C⁺_t > h or C⁻_t > h. k = 0.5 and h = 5 (Montgomery's recommendation)
detect a 1σ shift with an in-control ARL of about 465.

μ0 and σ are either given, or estimated (mean, sample std) from the first `reference_size`
observations, during which nothing is signalled. The default of 100 is larger than the 30 often
seen because estimated parameters shorten the in-control run length: with 30 points the estimated mean
alone has a standard error of 0.18σ, and false alarms multiply. After a signal the detector starts afresh and, if
it estimates them, re-estimates μ0 and σ from the observations that follow. When the estimated σ is
0 (a constant reference), any later value different from μ0 is a change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.algorithms.changepoint.base import CHANGE_DETECTORS, ChangeDetector


@dataclass(frozen=True, slots=True)
class CUSUMParams:
    k: float = 0.5
    h: float = 5.0
    reference_size: int = 100
    target_mean: float | None = None
    sigma: float | None = None

    def __post_init__(self) -> None:
        if not (self.k >= 0 and math.isfinite(self.k)):
            raise ValueError("cusum: k must be a finite number >= 0 (in units of sigma)")
        if not (self.h > 0 and math.isfinite(self.h)):
            raise ValueError("cusum: h must be a finite number > 0 (in units of sigma)")
        if self.reference_size < 2 and (self.target_mean is None or self.sigma is None):
            raise ValueError("cusum: reference_size must be >= 2 to estimate the mean and sigma")
        if self.target_mean is not None and not math.isfinite(self.target_mean):
            raise ValueError("cusum: target_mean must be finite")
        if self.sigma is not None and not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError("cusum: sigma must be a finite number > 0")


@CHANGE_DETECTORS.register("cusum")
class CUSUM(ChangeDetector):
    """Two-sided tabular CUSUM with k and h in units of σ."""

    name = "cusum"
    params_type = CUSUMParams
    params: CUSUMParams

    def reset(self) -> None:
        self.upper = 0.0
        self.lower = 0.0
        self.mean: float | None = self.params.target_mean
        self.sigma: float | None = self.params.sigma
        self._reference: list[float] = []

    def _step(self, x: float) -> bool:
        if self.mean is None or self.sigma is None:
            self._collect_reference(x)
            return False
        z = _standardise(x, self.mean, self.sigma)
        self.upper = max(0.0, self.upper + z - self.params.k)
        self.lower = max(0.0, self.lower - z - self.params.k)
        if self.upper > self.params.h or self.lower > self.params.h:
            self.reset()
            return True
        return False

    def _collect_reference(self, x: float) -> None:
        self._reference.append(x)
        if len(self._reference) < self.params.reference_size:
            return
        n = len(self._reference)
        mean = math.fsum(self._reference) / n
        if self.mean is None:
            self.mean = mean
        if self.sigma is None:
            self.sigma = math.sqrt(math.fsum((v - mean) ** 2 for v in self._reference) / (n - 1))


def _standardise(x: float, mean: float, sigma: float) -> float:
    if sigma > 0:
        return (x - mean) / sigma
    return 0.0 if x == mean else math.copysign(math.inf, x - mean)
