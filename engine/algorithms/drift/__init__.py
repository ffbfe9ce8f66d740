"""Data drift: univariate methods (numeric and categorical), automatic choice, FDR, multivariate.

Importing this package registers every univariate method in `method.DRIFT_METHODS`; the modules are
imported here for that side effect only.
"""

from __future__ import annotations

from engine.algorithms.drift import auto, categorical, numeric_distances, numeric_tests

__all__ = ["auto", "categorical", "numeric_distances", "numeric_tests"]
