"""What a baseline holds, computed from reference data (pure: arrays in, bins and a JSON document out).

Per numeric feature: interior edges at `N_BINS` reference quantiles (ties dropped, open outer bins), the
reference counts **and sums** per bin, missing and out-of-range counts, minimum, maximum, sum of squares.
Why 50 bins: a binned KS statistic is within the largest bin mass of the exact one (2 % with 50 quantile
bins, 10 % with deciles), and the Wasserstein bound (`binned_bounds`) shrinks with the bin widths; the
divergences (PSI, JS, …) are computed on ~10 merged groups of these bins, so their noise and thresholds
stay the conventional ones. 50 bigint counts per feature and minute bucket is the storage price.
Per categorical feature: the declared categories, then the other categories seen, most frequent first
(at most `MAX_CATEGORIES`), with their counts.

The JSON document (`content`): the reference prediction distribution (binary: score histogram on 20 equal
bins of [0, 1] and mean; multiclass: predicted-class counts; regression: predicted-value mean, std and
quantiles), the reference performance metrics with their sample sizes (labelled rows only), the
calibration data of label-free estimation (`calibration`, classifiers with labelled scored rows: per bin of
the windows' 100 score bins, the labelled rows and the positives among them — binary: of the score;
multiclass: of each class's probability, one-vs-rest), and per-chunk
feature counts for calibrated thresholds (`chunks`: hourly when the rows have times, else chunks of equal
row counts).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.algorithms.drift.binning import quantile_edges
from engine.algorithms.performance import ClassificationData, evaluate_classification, evaluate_regression
from engine.algorithms.performance.cbpe_binned import N_BINS as CALIBRATION_BINS
from engine.algorithms.performance.cbpe_binned import bin_of
from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.store.baselines_repo import NewFeatureBins

N_BINS = 50
MAX_CATEGORIES = 1000
SCORE_BINS = 20
MIN_CHUNK_ROWS = 50
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
MULTICLASS_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "log_loss")
REGRESSION_METRICS = ("mse", "rmse", "mae", "r2")


@dataclass(frozen=True, slots=True)
class ReferenceData:
    """Reference rows as columns. Numeric features NaN where missing, categorical None where missing;
    `times` (optional) orders and chunks the rows; labels optional (performance needs them)."""

    numeric: dict[str, NDArray[np.float64]]
    categorical: dict[str, list[str | None]]
    times: list[datetime] | None = None
    score: NDArray[np.float64] | None = None  # binary: P(positive class)
    probabilities: list[list[float] | None] | None = None  # multiclass
    predicted_class: list[str | None] | None = None
    predicted_value: NDArray[np.float64] | None = None
    label_class: list[str | None] | None = None
    label_value: NDArray[np.float64] | None = None
    n_rows: int = 0


@dataclass(frozen=True, slots=True)
class BaselineContent:
    features: list[NewFeatureBins]
    content: dict[str, Any] = field(default_factory=dict)
    chunking: str = ""


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def numeric_bins(
    name: str, values: NDArray[np.float64], lower: float | None, upper: float | None, n_bins: int = N_BINS
) -> NewFeatureBins | None:
    present = values[np.isfinite(values)]
    if present.size == 0:
        return None
    edges = quantile_edges(present, n_bins)
    idx = np.searchsorted(edges, present, side="right")
    counts = np.bincount(idx, minlength=edges.size + 1)
    sums = np.bincount(idx, weights=present, minlength=edges.size + 1)
    oor = int(((present < lower) if lower is not None else np.zeros(present.size, bool)).sum())
    oor += int(((present > upper) if upper is not None else np.zeros(present.size, bool)).sum())
    return NewFeatureBins(
        feature=name,
        kind="numeric",
        edges=edges.tolist(),
        categories=None,
        lower=lower,
        upper=upper,
        counts=counts.tolist(),
        sums=sums.tolist(),
        missing=int(values.size - present.size),
        out_of_range=oor,
        minimum=float(present.min()),
        maximum=float(present.max()),
        sumsq=float(np.dot(present, present)),
    )


def categorical_bins(name: str, values: list[str | None], declared: tuple[str, ...] | None) -> NewFeatureBins | None:
    seen = Counter(v for v in values if v is not None)
    cats = list(declared or ())
    cats += [c for c, _ in seen.most_common() if c not in set(cats)]
    cats = cats[:MAX_CATEGORIES]
    if not cats:
        return None
    known = set(cats)
    return NewFeatureBins(
        feature=name,
        kind="categorical",
        edges=None,
        categories=cats,
        lower=None,
        upper=None,
        counts=[seen.get(c, 0) for c in cats],
        sums=None,
        missing=sum(v is None for v in values),
        out_of_range=sum(n for c, n in seen.items() if c not in known),
        minimum=None,
        maximum=None,
        sumsq=None,
    )


def _chunks(data: ReferenceData) -> tuple[str, list[NDArray[np.int64]], list[str]]:
    """(chunking, row indices per chunk, chunk labels): hourly when times are known and give at least two
    chunks, else equal row counts (≥ MIN_CHUNK_ROWS rows, at most 50 chunks)."""
    n = data.n_rows
    if data.times is not None and n:
        hours = np.array([t.replace(minute=0, second=0, microsecond=0).timestamp() for t in data.times])
        keys, inverse = np.unique(hours, return_inverse=True)
        if keys.size >= 2:
            order = np.argsort(inverse, kind="stable")
            splits = np.cumsum(np.bincount(inverse))[:-1]
            labels = [datetime.fromtimestamp(k, tz=data.times[0].tzinfo).isoformat() for k in keys]
            return "1 hour", list(np.split(order, splits)), labels
    size = max(MIN_CHUNK_ROWS, -(-n // 50))
    parts = [np.arange(i, min(i + size, n)) for i in range(0, n, size)]
    return f"{size} rows", parts, [str(i) for i in range(len(parts))]


def _chunk_counts(f: NewFeatureBins, column: Any, parts: list[NDArray[np.int64]]) -> list[list[int]]:
    if f.kind == "numeric":
        assert f.edges is not None
        edges = np.asarray(f.edges)
        out = []
        for rows in parts:
            x = column[rows]
            x = x[np.isfinite(x)]
            out.append(np.bincount(np.searchsorted(edges, x, side="right"), minlength=edges.size + 1).tolist())
        return out
    assert f.categories is not None
    index = {c: i for i, c in enumerate(f.categories)}
    out = []
    for rows in parts:
        counts = [0] * len(f.categories)
        for r in rows:
            i = index.get(column[r]) if column[r] is not None else None
            if i is not None:
                counts[i] += 1
        out.append(counts)
    return out


def _metric_values(values: dict[str, Any]) -> dict[str, float | None]:
    return {k: _finite(v.value) if isinstance(v.value, float | int) else None for k, v in values.items()}


def _performance(model: ModelSpec, data: ReferenceData) -> dict[str, Any]:
    if model.task == "regression":
        if data.label_value is None or data.predicted_value is None:
            return {"n": 0, "metrics": {}}
        ok = np.isfinite(data.label_value) & np.isfinite(data.predicted_value)
        if ok.sum() < 2:
            return {"n": int(ok.sum()), "metrics": {}}
        res = evaluate_regression(list(REGRESSION_METRICS), data.label_value[ok], data.predicted_value[ok])
        return {"n": int(ok.sum()), "metrics": _metric_values(res)}
    labels = tuple(model.class_labels or ())
    if data.label_class is None or data.predicted_class is None:
        return {"n": 0, "metrics": {}}
    rows = [i for i, (y, p) in enumerate(zip(data.label_class, data.predicted_class, strict=True)) if y is not None and p is not None]
    if len(rows) < 2:
        return {"n": len(rows), "metrics": {}}
    y_true = np.array([data.label_class[i] for i in rows], dtype=object)
    y_pred = np.array([data.predicted_class[i] for i in rows], dtype=object)
    score: Any = None
    names: tuple[str, ...]
    if model.task == "binary" and data.score is not None:
        score = data.score[rows]
        names = CLASSIFICATION_METRICS if np.isfinite(score).all() else CLASSIFICATION_METRICS[:4]
        if not np.isfinite(score).all():
            score = None
    else:
        probs = [data.probabilities[i] for i in rows] if data.probabilities is not None else []
        if probs and all(p is not None for p in probs):
            score = np.array(probs, dtype=np.float64)
        names = MULTICLASS_METRICS if score is not None else MULTICLASS_METRICS[:4]
    out: dict[str, float | None] = {}
    for name in names:
        try:
            v = evaluate_classification([name], ClassificationData(y_true, y_pred, score, labels, labels[-1]))
            out.update(_metric_values(v))
        except ValueError:  # e.g. ROC AUC with one class present
            out[name] = None
    return {"n": len(rows), "metrics": out}


def performance_of(model: ModelSpec, data: ReferenceData) -> dict[str, Any]:
    """The baseline's reference metrics computed on other rows (a tracked batch): the same definitions."""
    return _performance(model, data)


def _predictions(model: ModelSpec, data: ReferenceData) -> dict[str, Any]:
    if model.task == "binary" and data.score is not None:
        s = data.score[np.isfinite(data.score)]
        counts = np.histogram(s, bins=SCORE_BINS, range=(0.0, 1.0))[0] if s.size else np.zeros(SCORE_BINS)
        return {"n": int(s.size), "score_mean": _finite(s.mean()) if s.size else None,
                "score_bins": SCORE_BINS, "score_counts": [int(c) for c in counts],
                "class_counts": dict(Counter(c for c in (data.predicted_class or []) if c is not None))}
    if model.task == "multiclass":
        classes = Counter(c for c in (data.predicted_class or []) if c is not None)
        return {"n": sum(classes.values()), "class_counts": dict(classes)}
    v = data.predicted_value[np.isfinite(data.predicted_value)] if data.predicted_value is not None else np.zeros(0)
    if not v.size:
        return {"n": 0}
    qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    return {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std()),
            "quantiles": dict(zip([str(q) for q in qs], np.quantile(v, qs).tolist(), strict=True))}


def _calibration(model: ModelSpec, data: ReferenceData) -> dict[str, Any] | None:
    """Per-bin (labelled rows, positives) of the reference scores, on the windows' score bins."""
    labels = tuple(model.class_labels or ())
    if data.label_class is None or not labels:
        return None
    y = data.label_class
    if model.task == "binary" and data.score is not None:
        ok = np.array([v is not None for v in y]) & np.isfinite(data.score)
        if not ok.any():
            return None
        b = bin_of(data.score[ok], CALIBRATION_BINS)
        pos = np.array([y[i] == labels[1] for i in np.flatnonzero(ok)], dtype=np.float64)
        return {"bins": CALIBRATION_BINS, "n": int(ok.sum()),
                "totals": np.bincount(b, minlength=CALIBRATION_BINS).tolist(),
                "positives": np.bincount(b, weights=pos, minlength=CALIBRATION_BINS).astype(int).tolist()}
    if model.task == "multiclass" and data.probabilities is not None:
        rows = [i for i, (lab, p) in enumerate(zip(y, data.probabilities, strict=True))
                if lab is not None and p is not None and len(p) == len(labels)]
        if not rows:
            return None
        probs = np.array([data.probabilities[i] for i in rows], dtype=np.float64)
        truth = np.array([y[i] for i in rows], dtype=object)
        per_class = {}
        for j, label in enumerate(labels):
            b = bin_of(probs[:, j], CALIBRATION_BINS)
            per_class[label] = {
                "totals": np.bincount(b, minlength=CALIBRATION_BINS).tolist(),
                "positives": np.bincount(b, weights=(truth == label) * 1.0, minlength=CALIBRATION_BINS).astype(int).tolist(),
            }
        return {"bins": CALIBRATION_BINS, "n": len(rows), "classes": per_class}
    return None


def build_content(model: ModelSpec, data: ReferenceData, n_bins: int = N_BINS) -> BaselineContent:
    if data.n_rows == 0:
        raise ValidationError([RowError(None, "reference", "the reference has no rows")])
    features: list[NewFeatureBins] = []
    columns: dict[str, Any] = {}
    for f in model.numeric_features:
        if f.name in data.numeric:
            b = numeric_bins(f.name, data.numeric[f.name], f.min_value, f.max_value, n_bins)
            if b is not None:
                features.append(b)
                columns[f.name] = data.numeric[f.name]
    for f in model.categorical_features:
        if f.name in data.categorical:
            b = categorical_bins(f.name, data.categorical[f.name], f.categories)
            if b is not None:
                features.append(b)
                columns[f.name] = data.categorical[f.name]
    if not features and model.features:
        # a model without features still has a reference (its score / prediction distribution, performance)
        raise ValidationError([RowError(None, "reference", "no feature has a present value in the reference")])
    chunking, parts, labels = _chunks(data)
    chunks = {
        "chunking": chunking,
        "labels": labels,
        "n": [int(p.size) for p in parts],
        "counts": {f.feature: _chunk_counts(f, columns[f.feature], parts) for f in features},
    }
    content = {
        "predictions": _predictions(model, data),
        "performance": _performance(model, data),
        "chunks": chunks,
        "calibration": _calibration(model, data),
    }
    return BaselineContent(features, content, chunking)
