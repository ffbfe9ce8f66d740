"""Stateful change detectors over metric streams: one interface, one result, one registry.

Every detector is fed one observation at a time through `update(x)`, which returns True when a change
is detected at that step. After a detection the detector starts afresh (River's convention), so the
next change is measured against the data that follows the previous one. `run(series)` resets the
detector, feeds a whole series and returns the indices of the detections, which makes it a pure
function of (parameters, series).

Input policy: every observation must be a finite number. NaN or ±inf raises `ValueError` — a
missing metric value is a data-quality problem, not evidence of a change, and silently skipping it
would shift the detection indices. An empty series gives an empty result.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from engine.algorithms.registry import Registry


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """Where a detector fired on one series.

    `detections` are the indices at which a change was signalled; `warnings` the indices at which the
    detector entered its warning zone (DDM and EDDM only), one per warning episode.
    """

    detector: str
    n: int
    detections: tuple[int, ...]
    warnings: tuple[int, ...]
    params: dict[str, Any]

    @property
    def n_detections(self) -> int:
        return len(self.detections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "n": self.n,
            "n_detections": self.n_detections,
            "detections": list(self.detections),
            "warnings": list(self.warnings),
            "params": {k: _json_scalar(v) for k, v in self.params.items()},
        }


def _json_scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ChangeDetector(ABC):
    """Base API shared by every registered change detector.

    Subclasses set `name`, `params_type` (a frozen dataclass whose defaults are the detector's
    defaults) and `binary` (True when observations must be 0/1, e.g. an error indicator).
    """

    name: ClassVar[str]
    params_type: ClassVar[type[Any]]
    binary: ClassVar[bool] = False

    def __init__(self, params: Any = None) -> None:
        if params is None:
            params = self.params_type()
        if not isinstance(params, self.params_type):
            raise TypeError(f"{self.name} expects {self.params_type.__name__}, got {type(params).__name__}")
        self.params = params
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Forget everything seen so far."""

    @abstractmethod
    def _step(self, x: float) -> bool:
        """Consume one validated observation; True when a change is detected here."""

    @property
    def warning(self) -> bool:
        """True when the detector is in its warning zone (only DDM/EDDM have one)."""
        return False

    def update(self, x: float) -> bool:
        return self._step(self._check(x))

    def run(self, series: Iterable[float] | np.ndarray) -> ChangeResult:
        values = np.asarray(series if isinstance(series, np.ndarray) else list(series), dtype=float)
        if values.ndim != 1:
            raise ValueError(f"{self.name}: series must be one-dimensional, got shape {values.shape}")
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(
                f"{self.name}: series contains {int(bad.sum())} non-finite values (first at index "
                f"{int(np.argmax(bad))}); drop or impute them before change detection"
            )
        self.reset()
        detections: list[int] = []
        warnings: list[int] = []
        in_warning = False
        for i, x in enumerate(values.tolist()):
            if self._step(self._check(x)):
                detections.append(i)
                in_warning = False
            elif self.warning:
                if not in_warning:
                    warnings.append(i)
                in_warning = True
            else:
                in_warning = False
        return ChangeResult(
            detector=self.name,
            n=int(values.size),
            detections=tuple(detections),
            warnings=tuple(warnings),
            params=dataclasses.asdict(self.params),
        )

    def _check(self, x: float) -> float:
        try:
            value = float(x)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: observation {x!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{self.name}: observation {x!r} is not finite")
        if self.binary and value not in (0.0, 1.0):
            raise ValueError(f"{self.name}: observations must be 0 or 1 (1 = error), got {x!r}")
        return value


CHANGE_DETECTORS: Registry[type[ChangeDetector]] = Registry("change detector")


def make_detector(name: str, params: Any = None) -> ChangeDetector:
    """A fresh detector registered under `name`, with `params` (defaults when None)."""
    return CHANGE_DETECTORS.get(name)(params)
