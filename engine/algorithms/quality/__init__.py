"""Data quality over Polars frames and count tables: completeness, ranges, types, unseen categories,
duplicates, freshness, and user-declared validation / consistency rules.

Importing the package registers every check in `QUALITY_CHECKS` (see `base`).
"""

from __future__ import annotations

from engine.algorithms.quality import aggregates, columns, rows, rules
from engine.algorithms.quality.base import (
    QUALITY_CHECKS,
    CheckResult,
    QualityCheck,
    QualityCheckError,
    check_from_dict,
    run_checks,
)

__all__ = [
    "QUALITY_CHECKS",
    "CheckResult",
    "QualityCheck",
    "QualityCheckError",
    "aggregates",
    "check_from_dict",
    "columns",
    "rows",
    "rules",
    "run_checks",
]
