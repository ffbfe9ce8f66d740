"""Statistical tests (descriptive, two/k-sample, chi-square, correlation, regression, A/B comparison).
Importing the package registers every test in `STAT_TESTS`."""

from __future__ import annotations

from engine.algorithms.stats import ab, correlation, descriptive, hypothesis
from engine.algorithms.stats._common import TestResult
from engine.algorithms.stats.registry import STAT_TESTS

__all__ = ["STAT_TESTS", "TestResult", "ab", "correlation", "descriptive", "hypothesis"]
