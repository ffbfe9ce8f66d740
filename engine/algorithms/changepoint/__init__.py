"""Change detection on metric streams: Page–Hinkley, ADWIN, DDM, EDDM, KSWIN (River) and CUSUM.

Importing the package registers every detector in `CHANGE_DETECTORS` (see `base`).
"""

from __future__ import annotations

from engine.algorithms.changepoint import cusum, river_detectors
from engine.algorithms.changepoint.base import CHANGE_DETECTORS, ChangeDetector, ChangeResult, make_detector

__all__ = ["CHANGE_DETECTORS", "ChangeDetector", "ChangeResult", "cusum", "make_detector", "river_detectors"]
