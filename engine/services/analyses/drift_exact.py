"""Exact sample-based drift of one feature: the library method on capped raw samples of the reference and
the window (the rows of the analysis scope: a version and / or a segment filter when given)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from engine.algorithms.drift.method import DRIFT_METHODS, Statistic, json_safe
from engine.algorithms.drift.thresholds import FixedThreshold
from engine.domain import FeatureBaseline, ModelSpec
from engine.errors import RowError, ValidationError
from engine.services.analyses.drift_scope import Scope
from engine.store import baselines_repo, results_repo


def _values(raw: list[Any], kind: str) -> Any:
    if kind == "numeric":
        return np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
    return np.array(raw, dtype=object)


async def exact_feature_drift(
    conn: Any, info: ModelSpec, b: FeatureBaseline, method: str, start: datetime, end: datetime,
    ref_lo: datetime | None, ref_hi: datetime | None, row: baselines_repo.BaselineRow, cap: int,
    threshold: float | None, alpha: float, scope: Scope,
) -> tuple[str, str, str, float | None, float | None, float | None, bool, int, int, dict[str, Any]]:
    """(feature, kind, method, statistic, p_value, threshold, drift, n_reference, n_current, details). The
    baseline's own range is the reference when no window is given (its version, not the scope's)."""
    spec = DRIFT_METHODS.get(method)
    if spec.feature_type != b.kind:
        raise ValidationError([RowError(None, "methods", f"{method} does not apply to {b.kind} feature {b.feature}")])
    ref_version, ref_segments = scope.version_id, scope.filters or None
    if ref_lo is None:
        if row.source != "range" or row.range_start is None or row.range_end is None:
            raise ValidationError([RowError(None, "exact", "an uploaded baseline keeps no raw rows: give a reference window")])
        ref_lo, ref_hi, ref_version, ref_segments = row.range_start, row.range_end, None, None
    assert ref_hi is not None
    ref_raw = await results_repo.sample_feature(conn, info.id, b.kind, b.position, ref_lo, ref_hi, ref_version, cap,
                                                ref_segments)
    cur_raw = await results_repo.sample_feature(conn, info.id, b.kind, b.position, start, end, scope.version_id, cap,
                                                scope.filters or None)
    ref_vals, cur_vals = _values(ref_raw, b.kind), _values(cur_raw, b.kind)
    if not len(ref_vals) or not len(cur_vals):
        return b.feature, b.kind, method, None, None, None, False, len(ref_vals), len(cur_vals), {"status": "no_data"}
    stat: Statistic = spec.compute(ref_vals, cur_vals)
    limit = threshold if threshold is not None else spec.default_threshold
    drift, how = False, "no default threshold: pass one to judge"
    if limit is not None:
        decision = FixedThreshold(limit, alpha).decide(stat.value, stat.p_value, spec.kind)
        drift, how = decision.drift_detected, decision.rule
    details = {**stat.details, "decision": how, "alpha": alpha if stat.p_value is not None else None,
               "kind": spec.kind, "row_cap": cap, "capped": len(cur_raw) >= cap or len(ref_raw) >= cap}
    return (b.feature, b.kind, method, stat.value, stat.p_value, limit, drift, len(ref_vals), len(cur_vals),
            json_safe(details))
