"""Page–Hinkley, ADWIN, DDM, EDDM and KSWIN: River's implementations behind the driftline interface.

River is the well-kept implementation of these detectors, so they are wrapped rather than rewritten:
each wrapper builds the River object from a typed, frozen parameter set whose defaults are River's
own (River 0.26), and translates `drift_detected` / `warning_detected` after each `update`.

KSWIN draws a random sample of its window at every step; River's default `seed=None` would make it
non-deterministic, so the wrapper's default seed is 42.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

from river import drift
from river.drift import binary

from engine.algorithms.changepoint.base import CHANGE_DETECTORS, ChangeDetector


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True, slots=True)
class PageHinkleyParams:
    min_instances: int = 30
    delta: float = 0.005
    threshold: float = 50.0
    alpha: float = 0.9999
    mode: Literal["up", "down", "both"] = "both"

    def __post_init__(self) -> None:
        _require(self.min_instances >= 1, "page_hinkley: min_instances must be >= 1")
        _require(self.threshold > 0, "page_hinkley: threshold must be > 0")
        _require(0 < self.alpha <= 1, "page_hinkley: alpha must be in (0, 1]")
        _require(self.mode in ("up", "down", "both"), "page_hinkley: mode must be 'up', 'down' or 'both'")


@dataclass(frozen=True, slots=True)
class ADWINParams:
    delta: float = 0.002
    clock: int = 32
    max_buckets: int = 5
    min_window_length: int = 5
    grace_period: int = 10

    def __post_init__(self) -> None:
        _require(0 < self.delta < 1, "adwin: delta must be in (0, 1)")
        _require(self.clock >= 1, "adwin: clock must be >= 1")
        _require(self.max_buckets >= 1, "adwin: max_buckets must be >= 1")
        _require(self.min_window_length >= 1, "adwin: min_window_length must be >= 1")
        _require(self.grace_period >= 1, "adwin: grace_period must be >= 1")


@dataclass(frozen=True, slots=True)
class DDMParams:
    warm_start: int = 30
    warning_threshold: float = 2.0
    drift_threshold: float = 3.0

    def __post_init__(self) -> None:
        _require(self.warm_start >= 0, "ddm: warm_start must be >= 0")
        _require(
            0 < self.warning_threshold <= self.drift_threshold,
            "ddm: need 0 < warning_threshold <= drift_threshold",
        )


@dataclass(frozen=True, slots=True)
class EDDMParams:
    warm_start: int = 30
    alpha: float = 0.95
    beta: float = 0.9

    def __post_init__(self) -> None:
        _require(self.warm_start >= 0, "eddm: warm_start must be >= 0")
        _require(0 < self.beta <= self.alpha <= 1, "eddm: need 0 < beta <= alpha <= 1")


@dataclass(frozen=True, slots=True)
class KSWINParams:
    alpha: float = 0.005
    window_size: int = 100
    stat_size: int = 30
    seed: int = 42

    def __post_init__(self) -> None:
        _require(0 < self.alpha < 1, "kswin: alpha must be in (0, 1)")
        _require(self.window_size >= 2, "kswin: window_size must be >= 2")
        _require(0 < self.stat_size < self.window_size, "kswin: need 0 < stat_size < window_size")


class _RiverDetector(ChangeDetector):
    """Drives one River drift detector; `reset()` builds a fresh one from the parameters."""

    river_type: ClassVar[type[Any]]

    def reset(self) -> None:
        self._river = self.river_type(**asdict(self.params))

    def _step(self, x: float) -> bool:
        self._river.update(x)
        return bool(self._river.drift_detected)


@CHANGE_DETECTORS.register("page_hinkley")
class PageHinkley(_RiverDetector):
    """Page–Hinkley test for a shift in the mean (River's `drift.PageHinkley`)."""

    name = "page_hinkley"
    params_type = PageHinkleyParams
    river_type = drift.PageHinkley


@CHANGE_DETECTORS.register("adwin")
class ADWIN(_RiverDetector):
    """ADaptive WINdowing: a change in the mean of a bounded stream (River's `drift.ADWIN`)."""

    name = "adwin"
    params_type = ADWINParams
    river_type = drift.ADWIN


@CHANGE_DETECTORS.register("kswin")
class KSWIN(_RiverDetector):
    """Kolmogorov–Smirnov test on a sliding window (River's `drift.KSWIN`), seeded."""

    name = "kswin"
    params_type = KSWINParams
    river_type = drift.KSWIN


class _BinaryRiverDetector(_RiverDetector):
    """Detectors of a rise in an error rate; observations are 0 (correct) or 1 (error)."""

    binary = True

    @property
    def warning(self) -> bool:
        return bool(self._river.warning_detected)


@CHANGE_DETECTORS.register("ddm")
class DDM(_BinaryRiverDetector):
    """Drift Detection Method on a Bernoulli error stream (River's `drift.binary.DDM`)."""

    name = "ddm"
    params_type = DDMParams
    river_type = binary.DDM


@CHANGE_DETECTORS.register("eddm")
class EDDM(_BinaryRiverDetector):
    """Early DDM: distances between errors (River's `drift.binary.EDDM`)."""

    name = "eddm"
    params_type = EDDMParams
    river_type = binary.EDDM
