"""Data quality of a model over a window, from the stored state where it exists: per feature the missing and
out-of-range rates (the feature windows' `n`, `missing`, `out_of_range`, exact and real-time), unseen
categories (their count from the windows, the most frequent values from the raw rows of the window), the rows
refused at ingest (`rejected_rows`, by field and reason), freshness (time from the last prediction to the
window's end, label delay from the prediction windows), and declarative rules (`engine.algorithms.quality`)
over up to `row_cap` raw rows of the window. Persisted (a problem stored as status "warning") as `analysis_results` rows (analysis "quality") in the
same transaction.

Feature windows exist for the features of the model's active baseline only: without one, the report has no
per-feature rates (and says so in `features_note`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import numpy as np
import polars as pl

from engine.algorithms.quality.base import QualityCheckError, check_from_dict
from engine.domain import FeatureBaseline, ModelSpec
from engine.errors import RowError, ValidationError
from engine.services.analyses.window_state import sample_size, window_level, window_metrics
from engine.store import baselines_repo, models_repo, quality_repo, results_repo
from engine.store.feature_bins import active_baselines
from engine.store.results_repo import ResultRow, RunKey
from engine.store.unit import Snapshot, UnitOfWork
from engine.store.window_reads import GroupBy, WindowRead, read_windows
from engine.windows.spec import FEATURES

MAX_ROW_CAP = 200_000
MAX_RULES = 100
TOP_UNSEEN = 10


class ValueCount(msgspec.Struct, frozen=True):
    value: str
    count: int


class FeatureQuality(msgspec.Struct, frozen=True):
    feature: str
    kind: str
    n: int  # rows of the window
    missing: int
    missing_rate: float | None
    out_of_range: int  # numeric: outside the declared range; categorical: a category the baseline lacks
    out_of_range_rate: float | None
    max_missing_rate: float
    max_out_of_range_rate: float
    status: str  # ok | issue | no_data (stored as ok | warning | no_data)
    unseen_top: tuple[ValueCount, ...]  # categorical: the most frequent unseen values (exact counts)


class RejectedCount(msgspec.Struct, frozen=True):
    field: str
    reason: str
    count: int


class Freshness(msgspec.Struct, frozen=True):
    last_prediction: datetime | None
    seconds_since_last_prediction: float | None  # to the window's end
    max_staleness_s: float | None
    stale: bool
    label_delay_mean_s: float | None
    label_delay_max_s: float | None
    labels_with_delay: int


class RuleOutcome(msgspec.Struct, frozen=True):
    check: str
    target: str
    n_rows: int
    n_failed: int
    failed_rate: float
    tolerated_rate: float
    passed: bool
    reason: str


class QualityRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Declarative rules (`engine.algorithms.quality` specs, e.g. {"check": "not_null", "column": "age"}) over
    the window's rows: feature columns by name, plus `predicted_class`, `predicted_value`, `score`,
    `label_class`, `label_value`."""

    rules: list[dict[str, Any]] = []


class QualityReport(msgspec.Struct, frozen=True):
    model: str
    start: datetime
    end: datetime
    n: int
    features: tuple[FeatureQuality, ...]
    features_note: str | None
    rejected: tuple[RejectedCount, ...]
    n_rejected: int
    freshness: Freshness
    rules: tuple[RuleOutcome, ...]
    rule_rows: int  # rows the rules saw (at most row_cap)
    rules_capped: bool
    n_issues: int


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def feature_counts(
    snap: Snapshot, model_id: int, bins: list[FeatureBaseline], start: datetime, end: datetime
) -> dict[str, tuple[int, int, int]]:
    """(n, missing, out_of_range) per feature over [start, end), summed over the feature windows."""
    if not bins:
        return {}
    read = WindowRead(FEATURES, window_level(start, end), model_id, start,
                      end, GroupBy("feature"), baseline_ids=tuple(b.id for b in bins))
    [m] = await read_windows(snap, [read])
    out: dict[str, tuple[int, int, int]] = {}
    for i, feature in enumerate(m.groups):
        n, miss, oor = (int(m.columns[c][i]) for c in ("n", "missing", "out_of_range"))
        a, b, c = out.get(feature, (0, 0, 0))
        out[feature] = (a + n, b + miss, c + oor)
    return out


def _frame(info: ModelSpec, raw: baselines_repo.RawRows) -> pl.DataFrame:
    cols: dict[str, Any] = {f.name: raw.num[:, f.position - 1] if len(raw.times) else np.zeros(0)
                            for f in info.numeric_features}
    frame = pl.DataFrame(cols).fill_nan(None) if cols else pl.DataFrame()
    extra: dict[str, Any] = {f.name: [r[f.position - 1] for r in raw.cat] for f in info.categorical_features}
    extra |= {"predicted_class": raw.predicted_class, "label_class": raw.label_class}
    frame = frame.with_columns(**{k: pl.Series(k, v, dtype=pl.String) for k, v in extra.items()}) if cols else \
        pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in extra.items()})
    floats = {"predicted_value": raw.predicted_value, "score": raw.score, "label_value": raw.label_value}
    return frame.with_columns(
        **{k: pl.Series(k, v, dtype=pl.Float64).fill_nan(None) for k, v in floats.items()}
    )


class QualityService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def quality(
        self, model: str, start: datetime, end: datetime, *, rules: list[dict[str, Any]] | None = None,
        max_missing_rate: float = 0.05, max_out_of_range_rate: float = 0.05, max_staleness_s: float | None = None,
        row_cap: int = 50_000, persist: bool = True, run_key: str = "adhoc",
    ) -> QualityReport:
        errs = []
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            errs.append(RowError(None, "start/end", "timezone-aware, end after start"))
        if not (0 <= max_missing_rate <= 1 and 0 <= max_out_of_range_rate <= 1):
            errs.append(RowError(None, "max_missing_rate/max_out_of_range_rate", "between 0 and 1"))
        if max_staleness_s is not None and not max_staleness_s > 0:
            errs.append(RowError(None, "max_staleness_s", "positive"))
        if not 1 <= row_cap <= MAX_ROW_CAP:
            errs.append(RowError(None, "row_cap", f"1 to {MAX_ROW_CAP}"))
        if len(rules or ()) > MAX_RULES:
            errs.append(RowError(None, "rules", f"at most {MAX_RULES}"))
        checks = []
        for i, spec in enumerate(rules or ()):
            try:
                checks.append(check_from_dict(spec))
            except (QualityCheckError, ValueError, TypeError, KeyError) as exc:
                errs.append(RowError(i, "rules", str(exc)))
        if errs:
            raise ValidationError(errs)
        async with self.uow.transaction() as conn:
            snap = Snapshot(conn)
            info = await models_repo.get_model(conn, model)
            bins = await active_baselines(conn, info.id)
            counts = await feature_counts(snap, info.id, bins, start, end)
            features = []
            for b in bins:
                n, miss, oor = counts.get(b.feature, (0, 0, 0))
                top: tuple[ValueCount, ...] = ()
                if b.kind == "categorical" and oor:
                    top = tuple(ValueCount(v, c) for v, c in await quality_repo.unseen_categories(
                        conn, info.id, b.position, tuple(b.categories or ()), start, end, TOP_UNSEEN))
                mr, orr = _rate(miss, n), _rate(oor, n)
                issue = (mr or 0.0) > max_missing_rate or (orr or 0.0) > max_out_of_range_rate
                features.append(FeatureQuality(b.feature, b.kind, n, miss, mr, oor, orr, max_missing_rate,
                                               max_out_of_range_rate, "no_data" if not n else "issue" if issue else "ok",
                                               top))
            rejected = tuple(RejectedCount(f, r, c) for f, r, c in
                             await quality_repo.rejected_counts(conn, info.id, start, end, 1000))
            last = await quality_repo.last_prediction(conn, info.id, end)
            delay = await window_metrics(snap, info, start, end, {"label_delay_mean_s", "label_delay_max_s", "count"})
            age = (end - last).total_seconds() if last is not None else None
            stale = max_staleness_s is not None and (age is None or age > max_staleness_s)
            freshness = Freshness(
                last, age, max_staleness_s, stale,
                delay.values.get("label_delay_mean_s") if delay else None,
                delay.values.get("label_delay_max_s") if delay else None,
                sample_size(delay, "label_delay_mean_s") if delay else 0,
            )
            outcomes: list[RuleOutcome] = []
            n_rule_rows = 0
            if checks:
                raw = await baselines_repo.reference_rows(conn, info.id, start, end, None, len(info.numeric_features),
                                                          len(info.categorical_features), row_cap)
                frame = _frame(info, raw)
                n_rule_rows = frame.height
                for i, check in enumerate(checks):
                    try:
                        res = check.evaluate(frame, max_rows=0)
                    except (QualityCheckError, ValueError, pl.exceptions.PolarsError) as exc:
                        raise ValidationError([RowError(i, "rules", str(exc))]) from exc
                    outcomes.append(RuleOutcome(res.check, res.target, res.n_rows, res.n_failed, res.failed_rate,
                                                res.tolerated_rate, res.passed, res.reason))
            n_issues = (sum(f.status == "issue" for f in features) + bool(rejected) + stale
                        + sum(not o.passed for o in outcomes))
            total = int(delay.values.get("count") or 0) if delay else 0
            report = QualityReport(
                model, start, end, total, tuple(features),
                None if bins else "no active baseline: per-feature rates need the feature windows of one",
                rejected, sum(r.count for r in rejected), freshness, tuple(outcomes), n_rule_rows,
                n_rule_rows >= row_cap, n_issues,
            )
            if persist:
                await results_repo.replace_run(conn, RunKey(info.id, "quality", start, end, run_key), _rows(report),
                                               None)
        return report


def _rows(r: QualityReport) -> list[ResultRow]:
    rows = []
    for f in r.features:
        miss_bad = f.missing_rate is not None and f.missing_rate > f.max_missing_rate
        oor_bad = f.out_of_range_rate is not None and f.out_of_range_rate > f.max_out_of_range_rate
        rows.append(ResultRow(f.feature, "missing_rate", f.missing_rate, f.max_missing_rate, None,
                              "no_data" if not f.n else "warning" if miss_bad else "ok", f.n, {"missing": f.missing}))
        rows.append(ResultRow(f.feature, "out_of_range_rate", f.out_of_range_rate, f.max_out_of_range_rate, None,
                              "no_data" if not f.n else "warning" if oor_bad else "ok", f.n,
                              {"out_of_range": f.out_of_range,
                               "unseen_top": [[v.value, v.count] for v in f.unseen_top] or None}))
    rows.append(ResultRow("*", "rejected_rows", float(r.n_rejected), 0.0, None, "warning" if r.n_rejected else "ok",
                          r.n_rejected, {"by_field": {f"{x.field}:{x.reason}": x.count for x in r.rejected[:50]}}))
    fr = r.freshness
    rows.append(ResultRow("*", "seconds_since_last_prediction", fr.seconds_since_last_prediction, fr.max_staleness_s,
                          None, "warning" if fr.stale else "ok" if fr.last_prediction else "no_data", r.n, None))
    rows.append(ResultRow("*", "label_delay_mean_s", fr.label_delay_mean_s, None, None, "info", fr.labels_with_delay,
                          {"max": fr.label_delay_max_s}))
    for o in r.rules:
        rows.append(ResultRow(o.target, f"rule:{o.check}", o.failed_rate, o.tolerated_rate, None,
                              "ok" if o.passed else "warning", o.n_rows, {"n_failed": o.n_failed, "reason": o.reason}))
    return rows
