"""Reference values computed from raw rows with scikit-learn / numpy, for comparison with the windows."""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np
from sklearn import metrics as skm

from engine.windows.spec import LEVELS, LevelName
from tests.windows.streams import Model


def bucket_of(t: datetime, level: LevelName) -> datetime:
    return LEVELS[level].floor(t)


def group_rows(
    rows: Sequence[asyncpg.Record], level: LevelName, key: Callable[[asyncpg.Record], Any] = lambda r: None
) -> dict[tuple[datetime, Any], list[asyncpg.Record]]:
    out: dict[tuple[datetime, Any], list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        out[(bucket_of(r["time"], level), key(r))].append(r)
    return out


def predicted(model: Model, r: asyncpg.Record) -> str:
    assert model.classes
    if model.task == "binary" and r["score"] is not None:
        return model.classes[1] if r["score"] >= model.threshold else model.classes[0]
    return str(r["predicted_class"])


def expected_metrics(
    model: Model, rows: Sequence[asyncpg.Record], bucket_seconds: float
) -> dict[str, float | None]:
    """Every metric the windows derive, from the raw rows of one bucket/group."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn: classes absent from a small bucket
        return _expected(model, rows, bucket_seconds)


def _expected(model: Model, rows: Sequence[asyncpg.Record], bucket_seconds: float) -> dict[str, float | None]:
    out: dict[str, float | None] = {"count": float(len(rows)), "throughput_per_s": len(rows) / bucket_seconds}
    labeled = [r for r in rows if r["label_class"] is not None or r["label_value"] is not None]
    out["label_coverage"] = len(labeled) / len(rows)
    delays = [(r["label_time"] - r["time"]).total_seconds() for r in labeled if r["label_time"] is not None]
    out["label_delay_mean_s"] = float(np.mean(delays)) if delays else None
    out["label_delay_max_s"] = float(np.max(delays)) if delays else None
    lat = np.array([r["latency_ms"] for r in rows if r["latency_ms"] is not None])
    out["latency_mean_ms"] = float(lat.mean()) if lat.size else None
    out["latency_max_ms"] = float(lat.max()) if lat.size else None
    for q in (50, 95, 99):
        out[f"latency_p{q}_ms"] = float(np.percentile(lat, q)) if lat.size else None
    scores = [r["score"] for r in rows if r["score"] is not None]
    out["score_mean"] = float(np.mean(scores)) if scores else None
    values = [r["predicted_value"] for r in rows if r["predicted_value"] is not None]
    out["prediction_mean"] = float(np.mean(values)) if values else None
    if model.task == "regression":
        reg = [r for r in labeled if r["predicted_value"] is not None]
        if reg:
            y = np.array([r["label_value"] for r in reg])
            yh = np.array([r["predicted_value"] for r in reg])
            out["mse"] = skm.mean_squared_error(y, yh)
            out["rmse"] = math.sqrt(out["mse"])
            out["mae"] = skm.mean_absolute_error(y, yh)
            out["r2"] = skm.r2_score(y, yh) if len(y) > 1 else None
            nz = y != 0
            out["mape"] = float(np.mean(np.abs(yh[nz] - y[nz]) / np.abs(y[nz]))) if nz.any() else None
            den = np.abs(y) + np.abs(yh)
            out["smape"] = float(
                np.mean(np.where(den > 0, 2 * np.abs(yh - y) / np.where(den > 0, den, 1), 0.0))
            )
            out["bias"] = float(np.mean(yh - y))
        return out
    assert model.classes
    cls = [r for r in labeled if r["predicted_class"] is not None or r["score"] is not None]
    if cls:
        yt = [r["label_class"] for r in cls]
        yp = [predicted(model, r) for r in cls]
        labels = model.classes
        out["accuracy"] = skm.accuracy_score(yt, yp)
        out["balanced_accuracy"] = skm.balanced_accuracy_score(yt, yp)
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            for avg in ("macro", "micro", "weighted"):
                out[f"{name}_{avg}"] = fn(yt, yp, labels=labels, average=avg, zero_division=0)
            if model.task == "binary":
                out[name] = fn(yt, yp, pos_label=labels[1], labels=labels, average="binary", zero_division=0)
    if model.task == "binary":
        sc = [r for r in labeled if r["score"] is not None]
        if sc:
            y = np.array([r["label_class"] == model.classes[1] for r in sc])
            s = np.array([r["score"] for r in sc])
            out["log_loss"] = skm.log_loss(y, s, labels=[False, True])
            out["brier"] = skm.brier_score_loss(y, s)
            out["roc_auc"] = skm.roc_auc_score(y, s) if 0 < y.sum() < y.size else None
            out["average_precision"] = skm.average_precision_score(y, s) if y.any() else None
            # expected calibration error over 10 equal-width bins (a score of 1.0 in the last one)
            coarse = np.minimum((s * 10).astype(int), 9)
            out["ece"] = float(np.abs(np.bincount(coarse, weights=y - s, minlength=10)).sum() / s.size)
    else:
        pr = [r for r in labeled if r["probabilities"] is not None]
        if pr:
            yt = [r["label_class"] for r in pr]
            p = np.array([r["probabilities"] for r in pr])
            out["log_loss"] = skm.log_loss(yt, p, labels=model.classes)
            onehot = np.array([[c == t for c in model.classes] for t in yt], dtype=float)
            out["brier"] = float(np.mean(((p - onehot) ** 2).sum(axis=1)))
    return out
