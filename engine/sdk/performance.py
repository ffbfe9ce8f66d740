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
