"""Multivariate drift of a model's features over a window, from bounded raw samples: the reference is the
active baseline's stored sample (`baseline_samples`, ≤ 20 000 rows kept at creation, for both sources) or a
reference window's rows; the current side is a uniform sample of the window's rows (at most `row_cap`, chosen
by an md5 of prediction id, time and `seed`, so the same seed gives the same rows), optionally restricted to
one version and / or a segment filter. Missing values are imputed (numeric: reference median; categorical:
reference mode) and the report says how many. Computed by `engine.algorithms.drift.mixed_rows`; persisted on
request as analysis `multivariate_drift`.

A model without features gets an empty result (`status: no_features`), as univariate drift gives an empty
report; too few rows give `insufficient_data`; the `row_cap` is bounded by the `multivariate_row_cap` setting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import numpy as np

from engine.algorithms.drift.method import json_safe
from engine.algorithms.drift.mixed_rows import (
    METHODS,
    MultivariateParams,
    min_rows,
    multivariate_drift,
    subsample,
)
from engine.errors import NotFoundError, RowError, ValidationError
from engine.store import baselines_repo, models_repo, results_repo, samples_repo
from engine.store.results_repo import ResultRow, RunKey
from engine.store.samples_repo import FeatureRows
from engine.store.unit import UnitOfWork

DEFAULT_ROW_CAP = 5_000
METHOD_ALIASES = {"domain_classifier": "domain_classifier", "pca": "pca", "pca_reconstruction": "pca"}


class MultivariateDriftReport(msgspec.Struct, frozen=True):
    model: str
    start: datetime
    end: datetime
    method: str
    reference: str  # "baseline:<name>" or "window"
    reference_start: datetime | None
    reference_end: datetime | None
    version: str | None
    filters: dict[str, str]
    source: str  # where the rows came from: "raw_sample"
    status: str  # ok | no_features | no_data | insufficient_data
    statistic: float | None  # domain classifier: ROC AUC; pca: mean reconstruction error
    threshold: float | None
    lower_threshold: float | None
    ci_lower: float | None  # the AUC's 95 % interval (domain classifier)
    ci_upper: float | None
    drift: bool
    n_reference: int
    n_current: int
    n_current_rows: int  # rows of the window before the cap
    row_cap: int
    seed: int
    features: tuple[str, ...]
    imputed_reference: dict[str, int]  # missing values imputed, per feature
    imputed_current: dict[str, int]
    imputation: str
    details: dict[str, Any]


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError([RowError(None, field, message)])


class MultivariateDriftService:
    def __init__(self, uow: UnitOfWork, max_row_cap: int = 20_000) -> None:
        self.uow = uow
        self.max_row_cap = max_row_cap

    async def multivariate(
        self, model: str, start: datetime, end: datetime, *, method: str = "domain_classifier",
        reference_start: datetime | None = None, reference_end: datetime | None = None, version: str | None = None,
        filters: dict[str, str] | None = None, row_cap: int = DEFAULT_ROW_CAP, params: MultivariateParams | None = None,
        persist: bool = False, run_key: str = "adhoc",
    ) -> MultivariateDriftReport:
        params = params or MultivariateParams()
        name = self._check(method, start, end, reference_start, reference_end, row_cap, params)
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            version_id = None
            if version is not None:
                versions = {v.version: v.id for v in await models_repo.list_versions(conn, info.id)}
                if version not in versions:
                    raise NotFoundError(f"model {model!r} has no version {version!r}")
                version_id = versions[version]
            nn, nc = len(info.numeric_features), len(info.categorical_features)
            names = tuple(f.name for f in info.numeric_features) + tuple(f.name for f in info.categorical_features)
            baseline_id = None
            if reference_start is not None and reference_end is not None:
                label = "window"
                ref = await samples_repo.window_sample(conn, info.id, reference_start, reference_end, version_id,
                                                       filters, params.seed, row_cap, nn, nc)
            else:
                active = await baselines_repo.active_baseline_name(conn, info.id)
                if active is None:
                    raise NotFoundError(f"model {model!r} has no active baseline; create one or give a reference window")
                row = await baselines_repo.get_baseline(conn, info.id, active)
                label, baseline_id = f"baseline:{active}", row.id
                ref = await samples_repo.baseline_sample(conn, row.id, nn, nc)
                if names and ref.num.shape[0] == 0:
                    raise _invalid("reference", f"baseline {active!r} keeps no reference sample (created before "
                                   "migration 0011): recreate it or give reference_start / reference_end")
                keep = subsample(ref.num.shape[0], row_cap, params.seed)
                ref = FeatureRows(ref.num[keep], [ref.cat[i] for i in keep], ref.n_matched)
            cur = await samples_repo.window_sample(conn, info.id, start, end, version_id, filters, params.seed,
                                                   row_cap, nn, nc)
            n_ref, n_cur = ref.num.shape[0], cur.num.shape[0]
            need_ref, need_cur = min_rows(name, params)
            status, result = "ok", None
            if not names:
                status = "no_features"
            elif n_ref == 0 or n_cur == 0:
                status = "no_data"
            elif n_ref < need_ref or n_cur < need_cur:
                status = "insufficient_data"
            else:
                try:
                    result = multivariate_drift(name, ref.num, ref.cat, cur.num, cur.cat, params)
                except ValueError as exc:
                    raise _invalid("method", str(exc)) from exc
            details: dict[str, Any] = {} if result is None else dict(json_safe(result.details))
            if status == "insufficient_data":
                details["needs"] = {"reference": need_ref, "current": need_cur}
            report = MultivariateDriftReport(
                model, start, end, name, label, reference_start, reference_end, version, dict(filters or {}),
                "raw_sample", status, None if result is None else result.statistic,
                None if result is None else result.threshold, None if result is None else result.lower_threshold,
                result.interval[0] if result and result.interval else None,
                result.interval[1] if result and result.interval else None,
                bool(result and result.drift), n_ref, n_cur, cur.n_matched, row_cap, params.seed, names,
                _imputed(names, ref, nn), _imputed(names, cur, nn),
                "numeric: reference median; categorical: reference most frequent category", details,
            )
            if persist:
                key = RunKey(info.id, "multivariate_drift", start, end, run_key, version_id or 0, filters or None)
                await results_repo.replace_run(conn, key, _rows(report), baseline_id)
        return report

    def _check(
        self, method: str, start: datetime, end: datetime, reference_start: datetime | None,
        reference_end: datetime | None, row_cap: int, p: MultivariateParams,
    ) -> str:
        errs = []
        if method not in METHOD_ALIASES:
            errs.append(RowError(None, "method", f"unknown {method!r}; known: {', '.join(METHODS)}"))
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            errs.append(RowError(None, "start/end", "timezone-aware, end after start"))
        if (reference_start is None) != (reference_end is None) or (
                reference_start is not None and reference_end is not None and (
                    reference_start.tzinfo is None or reference_end.tzinfo is None or reference_end <= reference_start)):
            errs.append(RowError(None, "reference_start/end", "both or neither, timezone-aware, end after start"))
        if not 10 <= row_cap <= self.max_row_cap:
            errs.append(RowError(None, "row_cap", f"10 to {self.max_row_cap} rows per side (setting multivariate_row_cap)"))
        if not 0 <= p.seed < 2**31:
            errs.append(RowError(None, "seed", "0 to 2^31 - 1"))
        if not 2 <= p.folds <= 10:
            errs.append(RowError(None, "folds", "2 to 10"))
        if not 2 <= p.null_splits <= 20:
            errs.append(RowError(None, "null_splits", "2 to 20"))
        if not 0 < p.variance < 1:
            errs.append(RowError(None, "variance", "in (0, 1)"))
        if not 2 <= p.n_chunks <= 100:
            errs.append(RowError(None, "n_chunks", "2 to 100"))
        if not 0 < p.k <= 100:
            errs.append(RowError(None, "k", "in (0, 100]"))
        if p.threshold is not None and not -1e12 < p.threshold < 1e12:
            errs.append(RowError(None, "threshold", "a finite number"))
        if errs:
            raise ValidationError(errs)
        return METHOD_ALIASES[method]


def _imputed(names: tuple[str, ...], rows: FeatureRows, nn: int) -> dict[str, int]:
    if not names or rows.num.shape[0] == 0:
        return {}
    num = [int(v) for v in np.isnan(rows.num).sum(axis=0)]
    cat = [sum(r[j] is None for r in rows.cat) for j in range(len(names) - nn)]
    return {n: c for n, c in zip(names, num + cat, strict=True) if c}


def _rows(r: MultivariateDriftReport) -> list[ResultRow]:
    status = "no_data" if r.statistic is None else "drift" if r.drift else "ok"
    return [ResultRow("*", f"multivariate:{r.method}", r.statistic, r.threshold, None, status, r.n_current,
                      {"lower_threshold": r.lower_threshold, "ci": [r.ci_lower, r.ci_upper], "reference": r.reference,
                       "n_reference": r.n_reference, "status": r.status, "seed": r.seed, "row_cap": r.row_cap,
                       "version": r.version, "filters": r.filters})]
