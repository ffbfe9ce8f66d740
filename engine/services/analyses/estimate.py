"""Label-free performance estimates (CBPE) of a window, with the realised metrics beside them once labels land.

Calibrated on the active baseline (`content.calibration`: per score bin, labelled reference rows and
positives; baselines built before it have none → recreate the baseline). Estimates are of the **deployed
decision**: the stored predicted class (binary: score ≥ the model's threshold at ingestion; multiclass:
arg-max), never of "calibrated probability ≥ 0.5". The window's rows are read as cells aggregated in SQL
(engine.store.estimates_repo): score bin × predicted class × label, so the estimate equals
`cbpe.estimate_performance` / `cbpe_binned.estimate_multiclass` on the raw rows with the binned calibrator.
All rows of the window are estimated on; the realised metrics use the labelled ones (`n_labelled`).

Verdict per metric: degraded when the estimate's relative drop against the baseline's reference metric
reaches seed 004's threshold (engine.algorithms.degradation: accuracy / precision / recall / F1 5 %,
ROC AUC 3 %). The error bound is the half-width of the Monte-Carlo band (the window's sampling error,
assuming calibration holds under the shift, i.e. a covariate shift). Regression models: not estimated
(CBPE needs class probabilities) — a validation error says so.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import msgspec
import numpy as np

from engine.algorithms.degradation import DegradationConfig, assess_metric
from engine.algorithms.performance.cbpe import PerformanceEstimate
from engine.algorithms.performance.cbpe_binned import (
    BinnedCalibrator,
    MulticlassEstimate,
    estimate_binary_cells,
    estimate_multiclass_cells,
)
from engine.domain import ModelSpec
from engine.errors import NotFoundError, RowError, ValidationError
from engine.store import baselines_repo, estimates_repo, models_repo, results_repo
from engine.store.estimates_repo import CellFilter
from engine.store.results_repo import ResultRow, RunKey
from engine.store.unit import UnitOfWork

ANALYSIS = "estimated_performance"


class EstimatedMetricOut(msgspec.Struct, frozen=True):
    metric: str
    estimated: float | None
    sampling_error: float | None
    lower: float | None
    upper: float | None
    bound: float | None  # half-width of the band: |realised − estimated| ≤ bound at `confidence` if calibrated
    realised: float | None  # on the labelled rows of the window; null until labels land
    n_realised: int
    reference: float | None  # the baseline's reference metric
    threshold: float | None  # the estimate's limit: reference lowered by the relative threshold
    relative_threshold: float
    relative_degradation: float | None
    degraded: bool
    severity: str  # none | minor | moderate | critical (seed 004's levels)
    status: str  # ok | degraded | no_reference | no_data


class EstimatedPerformance(msgspec.Struct, frozen=True):
    model: str
    task: str
    start: datetime
    end: datetime
    version: str | None
    segment: dict[str, str]
    baseline: str
    method: str
    decision: str  # the deployed decision estimated
    n: int  # rows estimated on
    n_labelled: int
    calibration_n: int
    confidence: float
    labels: tuple[str, ...]
    expected_confusion: tuple[tuple[float, ...], ...]  # rows: actual, columns: predicted, in `labels` order
    realised_confusion: tuple[tuple[int, ...], ...] | None
    metrics: tuple[EstimatedMetricOut, ...]
    degraded: bool


def _f(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _check(start: datetime, end: datetime, n_draws: int, confidence: float, seed: int = 0) -> None:
    errs = []
    if not 0 <= seed < 2**63:
        errs.append(RowError(None, "seed", "0 to 2^63 − 1"))
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        errs.append(RowError(None, "start/end", "timezone-aware, end after start"))
    if not 2 <= n_draws <= 10_000:
        errs.append(RowError(None, "n_draws", "2 to 10000"))
    if not 0.5 <= confidence < 1.0:
        errs.append(RowError(None, "confidence", "in [0.5, 1)"))
    if errs:
        raise ValidationError(errs)


def _binary_realised(labels: tuple[str, ...], conf: np.ndarray, pos_hist: np.ndarray, neg_hist: np.ndarray) -> dict[str, float | None]:
    tn, fp, fn, tp = conf[0, 0], conf[0, 1], conf[1, 0], conf[1, 1]
    n = conf.sum()
    if n == 0:
        return {}
    out: dict[str, float | None] = {
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else None,
    }
    P, N = pos_hist.sum(), neg_hist.sum()
    below = np.cumsum(neg_hist) - neg_hist
    out["roc_auc"] = float((pos_hist * (below + 0.5 * neg_hist)).sum() / (P * N)) if P and N else None
    return {k: _f(float(v)) if v is not None else None for k, v in out.items()}


def _multiclass_realised(conf: np.ndarray) -> dict[str, float | None]:
    n = conf.sum()
    if n == 0:
        return {}
    diag = np.diag(conf).astype(np.float64)
    pred, true = conf.sum(axis=0), conf.sum(axis=1)
    prec = np.divide(diag, pred, out=np.zeros_like(diag), where=pred > 0)
    rec = np.divide(diag, true, out=np.zeros_like(diag), where=true > 0)
    f1 = np.divide(2 * diag, pred + true, out=np.zeros_like(diag), where=(pred + true) > 0)
    return {"accuracy": float(diag.sum() / n), "precision_macro": float(prec.mean()),
            "recall_macro": float(rec.mean()), "f1_macro": float(f1.mean())}


class EstimateService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def estimate(
        self,
        model: str,
        start: datetime,
        end: datetime,
        *,
        version: str | None = None,
        segment: dict[str, str] | None = None,
        n_draws: int = 200,
        confidence: float = 0.95,
        seed: int = 0,
        persist: bool = True,
        run_key: str = "adhoc",
    ) -> EstimatedPerformance:
        _check(start, end, n_draws, confidence, seed)
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            if not info.is_classifier:
                raise ValidationError([RowError(None, "model", f"{model} is a regression model: label-free "
                                                "estimation (CBPE) needs class probabilities")])
            for key in segment or {}:
                if key not in info.dimensions:
                    raise ValidationError([RowError(None, "segment", f"{key!r} is not a declared dimension of {model}")])
            version_id = None
            if version is not None:
                versions = {v.version: v.id for v in await models_repo.list_versions(conn, info.id)}
                if version not in versions:
                    raise NotFoundError(f"model {model!r} has no version {version!r}")
                version_id = versions[version]
            active = await baselines_repo.active_baseline_name(conn, info.id)
            if active is None:
                raise NotFoundError(f"model {model!r} has no active baseline; create one first")
            row = await baselines_repo.get_baseline(conn, info.id, active)
            content = row.content or {}
            cal = content.get("calibration")
            if not cal:
                raise ValidationError([RowError(None, "baseline", f"baseline {active!r} holds no labelled reference "
                                                "scores to calibrate on (labels missing, or built before calibration "
                                                "was kept): create a baseline from labelled rows")])
            reference = {k: v for k, v in (content.get("performance", {}).get("metrics", {}) or {}).items()
                         if v is not None}
            cells = CellFilter(info.id, start, end, version_id, segment, int(cal["bins"]))
            labels = tuple(info.class_labels or ())
            report: tuple[PerformanceEstimate | MulticlassEstimate | None, dict[str, float | None], int, int,
                          tuple[tuple[int, ...], ...] | None]
            try:
                if info.task == "binary":
                    report = await self._binary(conn, info, cells, cal, n_draws, confidence, seed)
                else:
                    report = await self._multiclass(conn, info, cells, cal, n_draws, confidence, seed)
            except ValueError as exc:  # e.g. a reference whose labelled scores fill a single bin
                raise ValidationError([RowError(None, "baseline", f"cannot calibrate on baseline {active!r}: {exc}")]) from exc
            est, realised, realised_n, n_labelled, real_conf = report
            metrics = _judge(est, realised, realised_n, reference)
            out = EstimatedPerformance(
                model, info.task, start, end, version, dict(segment or {}), active, "cbpe",
                f"score >= {info.threshold} (the model's threshold)" if info.task == "binary" else "arg-max class",
                est.n if est is not None else 0, n_labelled, int(cal.get("n", 0)), confidence, labels,
                _confusion(est, info), real_conf, metrics, any(m.degraded for m in metrics),
            )
            if persist:
                seg = dict(segment or {})
                await results_repo.replace_run(
                    conn, RunKey(info.id, ANALYSIS, start, end, run_key, version_id or 0, seg or None), _rows(out),
                    row.id)
        return out

    async def _binary(
        self, conn: Any, info: ModelSpec, cells: CellFilter, cal: dict[str, Any], n_draws: int, confidence: float,
        seed: int,
    ) -> tuple[PerformanceEstimate | None, dict[str, float | None], int, int, tuple[tuple[int, ...], ...] | None]:
        labels = tuple(info.class_labels or ())
        calibrator = BinnedCalibrator.from_counts(cal["positives"], cal["totals"])
        rows = await estimates_repo.score_cells(conn, cells)
        k = cells.n_bins
        agg: dict[tuple[int, int], int] = {}
        conf = np.zeros((2, 2), dtype=np.int64)
        pos_hist, neg_hist = np.zeros(k), np.zeros(k)
        for b, pred, label, n in rows:
            yhat = int(pred == labels[1])
            agg[(b, yhat)] = agg.get((b, yhat), 0) + n
            if label in labels:
                y = labels.index(label)
                conf[y, yhat] += n
                (pos_hist if y == 1 else neg_hist)[b] += n
        if not agg:
            return None, {}, 0, 0, None
        keys = np.array(list(agg.keys()), dtype=np.int64)
        est = estimate_binary_cells(keys[:, 0], keys[:, 1], np.array(list(agg.values())), calibrator,
                                    n_draws=n_draws, confidence=confidence, seed=seed)
        n_lab = int(conf.sum())
        return est, _binary_realised(labels, conf, pos_hist, neg_hist), n_lab, n_lab, tuple(map(tuple, conf.tolist()))

    async def _multiclass(
        self, conn: Any, info: ModelSpec, cells: CellFilter, cal: dict[str, Any], n_draws: int, confidence: float,
        seed: int,
    ) -> tuple[MulticlassEstimate | None, dict[str, float | None], int, int, tuple[tuple[int, ...], ...] | None]:
        labels = tuple(info.class_labels or ())
        K = len(labels)
        classes = cal.get("classes", {})
        if any(lab not in classes for lab in labels):
            raise ValidationError([RowError(None, "baseline", "the baseline's calibration misses a class")])
        calibrators = [BinnedCalibrator.from_counts(classes[lab]["positives"], classes[lab]["totals"]) for lab in labels]
        prob_rows = await estimates_repo.probability_cells(conn, cells, K)
        class_rows = await estimates_repo.class_cells(conn, cells, K)
        index = {lab: i for i, lab in enumerate(labels)}
        npred = np.zeros(K)
        conf = np.zeros((K, K), dtype=np.int64)
        for pred, label, n in class_rows:
            if pred in index:
                npred[index[pred]] += n
                if label in index:
                    conf[index[label], index[pred]] += n
        cells_ = [(index[p], j - 1, b, n) for p, j, b, n in prob_rows if p in index]
        if not cells_ or npred.sum() == 0:
            return None, {}, 0, 0, None
        arr = np.array(cells_, dtype=np.int64)
        est = estimate_multiclass_cells(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], npred, calibrators,
                                        n_draws=n_draws, confidence=confidence, seed=seed)
        n_lab = int(conf.sum())
        return est, _multiclass_realised(conf), n_lab, n_lab, tuple(map(tuple, conf.tolist()))


def _confusion(est: PerformanceEstimate | MulticlassEstimate | None, info: ModelSpec) -> tuple[tuple[float, ...], ...]:
    if est is None:
        return ()
    if isinstance(est, MulticlassEstimate):
        return est.expected_confusion
    tn, fp, fn, tp = est.expected_confusion
    return ((tn, fp), (fn, tp))


def _judge(
    est: PerformanceEstimate | MulticlassEstimate | None, realised: dict[str, float | None], realised_n: int,
    reference: dict[str, float],
) -> tuple[EstimatedMetricOut, ...]:
    config = DegradationConfig()
    names = [m.name for m in est.metrics] if est is not None else []
    out = []
    for m in est.metrics if est is not None else ():
        rel = config.threshold(m.name)
        value = _f(m.value)
        lo, hi = _f(m.lower), _f(m.upper)
        bound = max(abs(value - lo), abs(hi - value)) if value is not None and lo is not None and hi is not None else None
        ref = reference.get(m.name)
        if value is None:
            out.append(EstimatedMetricOut(m.name, None, None, None, None, None, realised.get(m.name), realised_n, ref,
                                          None, rel, None, False, "none", "no_data"))
            continue
        if ref is None:
            out.append(EstimatedMetricOut(m.name, value, _f(m.sampling_error), lo, hi, bound, realised.get(m.name),
                                          realised_n, None, None, rel, None, False, "none", "no_reference"))
            continue
        d = assess_metric(m.name, ref, value, config)
        limit = ref - rel * abs(ref)
        out.append(EstimatedMetricOut(m.name, value, _f(m.sampling_error), lo, hi, bound, realised.get(m.name),
                                      realised_n, ref, limit, rel, _f(d.relative_degradation), d.degraded,
                                      d.severity, "degraded" if d.degraded else "ok"))
    assert len(out) == len(names)
    return tuple(out)


def _rows(report: EstimatedPerformance) -> list[ResultRow]:
    rows = []
    for m in report.metrics:
        status = {"degraded": "critical" if m.severity == "critical" else "warning", "no_reference": "info"}.get(
            m.status, m.status)
        rows.append(ResultRow(m.metric, "estimated", m.estimated, m.threshold, m.bound, status, report.n,
                              {"lower": m.lower, "upper": m.upper, "sampling_error": m.sampling_error,
                               "reference": m.reference, "relative_threshold": m.relative_threshold,
                               "relative_degradation": m.relative_degradation, "confidence": report.confidence,
                               "decision": report.decision, "severity": m.severity}))
        if m.realised is not None:
            rows.append(ResultRow(m.metric, "realised", m.realised, None, None, "info", m.n_realised, None))
    return rows
