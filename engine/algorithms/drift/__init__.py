"""Data drift: univariate methods (numeric and categorical), automatic choice, FDR, multivariate.

Importing this package registers every univariate method in `method.DRIFT_METHODS` and every
multivariate one in `multivariate.MULTIVARIATE_DRIFT_METHODS`; the modules are
imported here for that side effect only.
"""

from __future__ import annotations

from engine.algorithms.drift import (
    auto,
    categorical,
    domain_classifier,
    numeric_distances,
    numeric_tests,
    pca_reconstruction,
)

__all__ = [
    "auto",
    "categorical",
    "domain_classifier",
    "numeric_distances",
    "numeric_tests",
    "pca_reconstruction",
]
