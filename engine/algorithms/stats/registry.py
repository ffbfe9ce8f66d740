"""The registry of statistical tests, keyed by name. Entries are typed by the shape of their input."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from numpy.typing import ArrayLike

from engine.algorithms.registry import Registry
from engine.algorithms.stats._common import TestResult

if TYPE_CHECKING:
    from engine.algorithms.stats.descriptive import Description


@dataclass(frozen=True, slots=True)
class OneSample:
    """fn(x) — descriptive statistics of one sample."""

    fn: Callable[[ArrayLike], Description]


@dataclass(frozen=True, slots=True)
class TwoSample:
    """fn(a, b) — two independent samples."""

    fn: Callable[[ArrayLike, ArrayLike], TestResult]


@dataclass(frozen=True, slots=True)
class KSample:
    """fn(groups) — k independent samples."""

    fn: Callable[[Sequence[ArrayLike]], TestResult]


@dataclass(frozen=True, slots=True)
class Paired:
    """fn(x, y) — paired observations (correlation, regression)."""

    fn: Callable[[ArrayLike, ArrayLike], TestResult]


@dataclass(frozen=True, slots=True)
class Table:
    """fn(table) — a contingency table of counts."""

    fn: Callable[[ArrayLike], TestResult]


@dataclass(frozen=True, slots=True)
class Proportions:
    """fn(successes_a, n_a, successes_b, n_b) — two rates."""

    fn: Callable[[int, int, int, int], TestResult]


@dataclass(frozen=True, slots=True)
class ScoredSamples:
    """fn(y_true_a, score_a, y_true_b, score_b) — a score metric of two model versions."""

    fn: Callable[[ArrayLike, ArrayLike, ArrayLike, ArrayLike], TestResult]


StatTest = OneSample | TwoSample | KSample | Paired | Table | Proportions | ScoredSamples

STAT_TESTS: Registry[StatTest] = Registry("statistical test")
