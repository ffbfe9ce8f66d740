"""The per-bucket derivation of window metrics: the independent reference that the vectorised
`engine.windows.derive_batch` is tested against (one bucket at a time, through the per-window metric objects
of `engine.algorithms.performance` and the scalar `percentiles.log_histogram_quantiles`). Test code only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.algorithms.performance import (
    ClassificationAggregates,
    ConfusionCounts,
    LogLossBrierSums,
    RegressionSums,
    ScoreHistogram,
    evaluate_classification_aggregates,
    evaluate_regression_sums,
)
from engine.domain import ModelSpec
from engine.windows.catalog import CLASSIFICATION, LOSSES, PER_CLASS, REGRESSION, Derived
from engine.windows.merge import Merged
from engine.windows.percentiles import log_histogram_quantiles
from engine.windows.spec import LATENCY_LOG10_HI, LATENCY_LOG10_LO, SCORE_BINS, Family

SCORE_EDGES = ScoreHistogram.uniform_edges(SCORE_BINS)


def _f(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _z(x: Any) -> float:
    return 0.0 if x is None else float(x)


def confusion(model: ModelSpec, cells: Sequence[int] | None) -> ConfusionCounts | None:
    assert model.class_labels is not None
    k = len(model.class_labels)
    if cells is None:
        return None
    arr = np.asarray(cells[1 : k * k + 1], dtype=np.int64).reshape(k, k)
    return ConfusionCounts.from_array(model.class_labels, arr) if arr.sum() > 0 else None


def score_histogram(pos: Sequence[int] | None, neg: Sequence[int] | None) -> ScoreHistogram | None:
    def fold(h: Sequence[int] | None) -> list[int]:
        if h is None:
            return [0] * SCORE_BINS
        body = list(h[1 : SCORE_BINS + 1])
        body[0] += h[0]
        body[-1] += h[SCORE_BINS + 1]  # a score of exactly 1.0 is in histogram()'s overflow element
        return body

    p, n = fold(pos), fold(neg)
    return ScoreHistogram(SCORE_EDGES, tuple(p), tuple(n)) if sum(p) + sum(n) > 0 else None


def derive(model: ModelSpec, s: Mapping[str, Any], bucket_seconds: float, wanted: set[str]) -> Derived:
    def g(key: str) -> Any:  # a column the read did not fetch (not needed by `wanted`) reads as None
        return s.get(key)

    values: dict[str, float | None] = {}
    bounds: dict[str, float] = {}
    per_class: dict[str, dict[str, float | None]] = {}
    n = int(g("n") or 0)
    values["count"] = float(n)
    values["throughput_per_s"] = n / bucket_seconds
    values["label_coverage"] = g("n_labeled") / n if n and g("n_labeled") is not None else None
    dn = g("label_delay_n") or 0
    values["label_delay_mean_s"] = _z(g("label_delay_sum")) / dn if dn else None
    values["label_delay_max_s"] = _f(g("label_delay_max"))
    values["score_mean"] = _z(g("score_sum")) / g("score_n") if g("score_n") else None
    values["prediction_mean"] = _z(g("pred_value_sum")) / g("pred_value_n") if g("pred_value_n") else None
    ln = g("latency_n") or 0
    values["latency_mean_ms"] = _z(g("latency_sum")) / ln if ln else None
    values["latency_max_ms"] = _f(g("latency_max"))
    quantiles = [q for q in ("p50", "p95", "p99") if f"latency_{q}_ms" in wanted]
    if ln and quantiles:
        for name, qv in zip(
            quantiles,
            log_histogram_quantiles(
                g("latency_hist"),
                [int(q[1:]) / 100 for q in quantiles],
                log_lo=LATENCY_LOG10_LO,
                log_hi=LATENCY_LOG10_HI,
                vmin=g("latency_min"),
                vmax=g("latency_max"),
            ),
            strict=True,
        ):
            values[f"latency_{name}_ms"] = qv.value
            bounds[f"latency_{name}_ms"] = qv.error_bound
    if model.task == "regression":
        if g("reg_n"):
            reg = RegressionSums(
                n=g("reg_n"),
                sum_err=_z(g("err_sum")),
                sum_abs_err=_z(g("abs_err_sum")),
                sum_sq_err=_z(g("sq_err_sum")),
                sum_ape=_z(g("ape_sum")),
                n_ape=g("ape_n") or 0,
                sum_sape=_z(g("sape_sum")),
                n_sape=g("reg_n"),
                sum_y=_z(g("y_sum")),
                sum_y2=_z(g("y2_sum")),
            )
            for name, mv in evaluate_regression_sums([m for m in REGRESSION if m in wanted], reg).items():
                values[name] = _f(mv.value)
        return Derived({k: v for k, v in values.items() if k in wanted}, bounds, per_class)

    assert model.class_labels is not None
    cc = confusion(model, g("confusion"))
    hist = score_histogram(g("score_hist_pos"), g("score_hist_neg")) if model.task == "binary" else None
    losses = LogLossBrierSums(g("loss_n"), _z(g("log_loss_sum")), _z(g("brier_sum"))) if g("loss_n") else None
    agg = ClassificationAggregates(
        confusion=cc, histogram=hist, sums=losses, pos_label=model.class_labels[-1]
    )
    names: list[str] = []
    if cc is not None:
        names += [m for m in CLASSIFICATION + PER_CLASS if m in wanted]
        if model.task == "binary":
            names += [m for m in ("precision", "recall", "f1") if m in wanted]
    if hist is not None and hist.n:  # each is undefined without: both classes / a positive / any row
        if "roc_auc" in wanted and any(hist.pos_counts) and any(hist.neg_counts):
            names.append("roc_auc")
        if "average_precision" in wanted and any(hist.pos_counts):
            names.append("average_precision")
        if "ece" in wanted:
            names.append("ece")
    if losses is not None:
        names += [m for m in LOSSES if m in wanted]
    for name, mv in evaluate_classification_aggregates(names, agg).items():
        if name.endswith("_per_class"):
            per_class[name] = {str(lab): _f(v) for lab, v in zip(mv.labels, mv.per_class, strict=True)}
            continue
        values[name] = _f(mv.value)
        if mv.error_bound:
            bounds[name] = float(mv.error_bound)
    return Derived({k: v for k, v in values.items() if k in wanted}, bounds, per_class)


def merged_dicts(family: Family, m: Merged) -> list[dict[str, Any]]:
    """The per-row form of `Merged`: absent "counts" and "sum" are None, absent "count" 0, min/max None."""
    if not m.buckets:  # nothing read: no columns either
        return []
    out: list[dict[str, Any]] = [{"bucket": b, "grp": g} for b, g in zip(m.buckets, m.groups, strict=True)]
    for col, how in family.state:
        values, has = m.columns[col], m.present[col].tolist()
        if how in ("counts", "sums"):
            for o, v, p in zip(out, values, has, strict=True):
                o[col] = v if p else None
        elif how == "count":
            for o, v in zip(out, values.tolist(), strict=True):
                o[col] = int(v)
        elif how == "sum":
            for o, v, p in zip(out, values.tolist(), has, strict=True):
                o[col] = float(v) if p else None
        else:
            for o, v in zip(out, values.tolist(), strict=True):
                o[col] = None if v != v else float(v)
    return out
