"""SDK calls for the performance analyses (label-free estimates, comparisons, tracked batches): requests built
here, answers decoded to plain dicts or Polars frames (nothing server-side is imported)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.sdk.calls import API, Call, _q


def _query(params: Mapping[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, Mapping):
            out[k] = ",".join(f"{a}={b}" for a, b in v.items())
        elif isinstance(v, list | tuple):
            out[k] = ",".join(str(x) for x in v)
        elif isinstance(v, bool):
            out[k] = str(v).lower()
        else:
            out[k] = str(v)
    return out


def estimated_performance(model: str, start: datetime, end: datetime, store: bool, params: Mapping[str, object]) -> Call:
    q = {"start": start.isoformat(), "end": end.isoformat(), **_query(params)}
    return Call("POST" if store else "GET", f"{API}/models/{_q(model)}/estimated-performance", params=q)


def estimate_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per metric: estimated, band, realised, reference, verdict, with the window and sample sizes."""
    keep = {k: report[k] for k in ("model", "start", "end", "version", "baseline", "decision", "n", "n_labelled")}
    return [{**keep, **m} for m in report["metrics"]]


def compare(model: str, start: datetime, end: datetime, store: bool, params: Mapping[str, object]) -> Call:
    q = {"start": start.isoformat(), "end": end.isoformat(), **_query(params)}
    return Call("POST" if store else "GET", f"{API}/models/{_q(model)}/compare", params=q)


def compare_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per metric: a, b, difference, interval, p-value, test, with the groups compared."""
    keep = {k: report[k] for k in ("model", "start", "end", "by", "a", "b")}
    return [{**keep, **{("value_a" if k == "a" else "value_b" if k == "b" else k): v for k, v in m.items()}}
            for m in report["metrics"]]


# ---- track_performance (seed 004): a labelled batch logged, then evaluated against the baseline ----


def _values(x: Any) -> list[Any]:
    if x is None:
        return []
    if hasattr(x, "tolist"):
        out: list[Any] = x.tolist()
        return out
    if hasattr(x, "to_list"):
        out = x.to_list()
        return out
    return list(x)


def _label(value: Any, labels: tuple[str, ...], field: str) -> str:
    if isinstance(value, str) and value in labels:
        return value
    if isinstance(value, bool | int) or (isinstance(value, float) and value.is_integer()):
        i = int(value)
        if str(i) in labels:
            return str(i)
        if 0 <= i < len(labels):
            return labels[i]  # class indices 0…K-1 in the model's label order
    raise ValueError(f"{field}: {value!r} is neither a class label of the model {list(labels)} nor a class index")


def batch_time(time: datetime | None, metadata: Mapping[str, Any]) -> datetime:
    """The batch's prediction time: `time`, else `metadata["batch_timestamp"]` (timezone-aware), else now."""
    from datetime import UTC

    if time is None and metadata.get("batch_timestamp") is not None:
        t = metadata["batch_timestamp"]
        time = t if isinstance(t, datetime) else datetime.fromisoformat(str(t))
    if time is None:
        return datetime.now(UTC)
    if time.tzinfo is None:
        raise ValueError("the batch time must be timezone-aware")
    return time


def batch_id_of(y_true: list[Any], y_pred: list[Any], proba: list[Any], metadata: Mapping[str, Any],
                time: datetime) -> str:
    """The caller's `metadata["batch_id"]`, else a digest of the batch's contents and time. The id makes the
    prediction ids (`<id>-<i>`) and the idempotency keys: a batch re-sent with the same id and time is
    answered from the first (replayed), not stored twice."""
    given = metadata.get("batch_id")
    if given is not None:
        return str(given)
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps([y_true, y_pred, proba, time.isoformat()], default=str).encode()).hexdigest()
    return f"tp-{digest[:20]}"


def tracked_rows(
    task: str, labels: tuple[str, ...], y_true: Any, y_pred: Any, y_pred_proba: Any, batch_id: str, time: datetime,
    features: Any = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(prediction rows, label rows) of a batch; prediction ids `<batch_id>-<i>`."""
    truth, pred, proba = _values(y_true), _values(y_pred), _values(y_pred_proba)
    n = len(truth)
    if n == 0:
        raise ValueError("y_true is empty")
    if (pred and len(pred) != n) or (proba and len(proba) != n):
        raise ValueError(f"y_true, y_pred and y_pred_proba differ in length ({n}, {len(pred)}, {len(proba)})")
    if not pred and not proba:
        raise ValueError("give y_pred, or y_pred_proba for a classifier")
    if hasattr(features, "to_dicts"):  # Polars
        feats: list[Any] = features.to_dicts()
    elif hasattr(features, "to_dict"):  # pandas
        feats = features.to_dict("records")
    else:
        feats = _values(features)
    if feats and len(feats) != n:
        raise ValueError("features: one row per prediction")
    stamp = time.isoformat()
    preds, labs = [], []
    for i in range(n):
        pid = f"{batch_id}-{i}"
        row: dict[str, Any] = {"prediction_id": pid, "time": stamp}
        if feats:
            row["features"] = dict(feats[i])
        if task == "regression":
            if not pred:
                raise ValueError("a regression model needs y_pred")
            row["prediction"] = float(pred[i])
            label: Any = float(truth[i])
        else:
            if pred:
                row["prediction"] = _label(pred[i], labels, "y_pred")
            if proba:
                p = proba[i]
                if task == "binary":
                    row["score"] = float(p[-1]) if isinstance(p, list | tuple) else float(p)
                else:
                    row["probabilities"] = [float(x) for x in p]
            label = _label(truth[i], labels, "y_true")
        preds.append(row)
        labs.append({"prediction_id": pid, "label": label, "time": stamp})
    return preds, labs


def batch_performance(model: str, body: Mapping[str, Any]) -> Call:
    from engine.sdk.calls import _json_call

    return _json_call("POST", f"{API}/models/{_q(model)}/batch-performance", dict(body), repeatable=True)


def tracked_result(report: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Seed 004's result shape: metrics, sample count, degradation analysis, retraining flag (+ the degradation
    per metric as a Polars frame under `degradation_frame`)."""
    import polars as pl

    degradation = list(report["degradation"])
    return {
        "batch_id": report["batch_id"],
        "model": report["model"],
        "version": report["version"],
        "timestamp": report["end"],
        "sample_count": report["sample_count"],
        "n_labelled": report["n_labelled"],
        "metrics": dict(report["metrics"]),
        "degradation_analysis": {
            "degradation_detected": report["degradation_detected"],
            "severity": report["severity"],
            "baseline": report["baseline"],
            "baseline_metrics": dict(report["reference_metrics"]),
            "metrics": degradation,
            "unmatched": list(report["unmatched"]),
        },
        "retraining_triggered": report["retraining_recommended"],
        "metadata": dict(metadata),
        "degradation_frame": pl.DataFrame(degradation) if degradation else pl.DataFrame(),
    }
