"""Quality checks from window aggregates (counts), for when the rows stay in the database.

A window aggregate knows how many rows it holds and how many were null per column, and can hold a
count per category; these give the same `CheckResult` as the row-level checks, without row indices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.algorithms.quality.base import CheckResult, QualityCheckError


def completeness_from_counts(
    column: str, n_rows: int, n_nulls: int, max_null_rate: float = 0.0
) -> CheckResult:
    """Completeness of `column` in a window of `n_rows` rows of which `n_nulls` were null."""
    if n_rows < 0 or not 0 <= n_nulls <= n_rows:
        raise QualityCheckError(f"completeness: need 0 <= n_nulls <= n_rows, got {n_nulls} of {n_rows}")
    if not 0.0 <= max_null_rate <= 1.0:
        raise QualityCheckError("completeness: max_null_rate must be in [0, 1]")
    return CheckResult(
        check="completeness",
        target=column,
        n_rows=n_rows,
        n_failed=n_nulls,
        reason=f"{column} is null",
        details={"from_counts": True},
        tolerated_rate=max_null_rate,
    )


def unseen_categories_from_counts(
    column: str, allowed: Iterable[object], current_counts: Mapping[str, int], max_listed: int = 20
) -> CheckResult:
    """Rows of a window whose category (a key of `current_counts`, compared as text) is not allowed."""
    known = {str(v) for v in allowed}
    if any(n < 0 for n in current_counts.values()):
        raise QualityCheckError("categories: counts must be >= 0")
    unseen = sorted(
        ((str(k), int(n)) for k, n in current_counts.items() if str(k) not in known and n > 0),
        key=lambda kv: (-kv[1], kv[0]),
    )
    return CheckResult(
        check="categories",
        target=column,
        n_rows=int(sum(current_counts.values())),
        n_failed=sum(n for _, n in unseen),
        reason=f"{column} value not among the {len(known)} known categories",
        details={
            "from_counts": True,
            "n_unseen_categories": len(unseen),
            "unseen_categories": dict(unseen[:max_listed]),
        },
    )
