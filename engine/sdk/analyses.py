"""SDK calls for baselines and analyses: requests built here, answers decoded to plain dicts or Polars frames
(the SDK imports nothing server-side, so the typed server results arrive as JSON)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import msgspec

from engine.sdk.calls import API, Call, _json_call, _q, api_error

PARQUET = "application/vnd.apache.parquet"


def create_baseline_from_range(model: str, name: str, start: datetime, end: datetime, version: str | None,
                               activate: bool) -> Call:
    body = {"name": name, "start": start.isoformat(), "end": end.isoformat(), "version": version, "activate": activate}
    return _json_call("POST", f"{API}/models/{_q(model)}/baselines", body, repeatable=False)


def create_baseline_from_frame(model: str, name: str, frame: Any, activate: bool) -> Call:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return Call("POST", f"{API}/models/{_q(model)}/baselines/upload",
                params={"baseline": name, "activate": str(activate).lower()}, content=buf.getvalue(),
                headers={"content-type": PARQUET}, repeatable=False)


def list_baselines(model: str) -> Call:
    return Call("GET", f"{API}/models/{_q(model)}/baselines")


def activate_baseline(model: str, name: str) -> Call:
    return Call("POST", f"{API}/models/{_q(model)}/baselines/{_q(name)}/activate")


def drift(model: str, start: datetime, end: datetime, store: bool, params: Mapping[str, object]) -> Call:
    q = {"start": start.isoformat(), "end": end.isoformat()}
    q.update({k: (",".join(v) if isinstance(v, list | tuple) else str(v).lower() if isinstance(v, bool) else str(v))
              for k, v in params.items() if v is not None})
    return Call("POST" if store else "GET", f"{API}/models/{_q(model)}/drift", params=q)


def _query(params: Mapping[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, datetime):
            out[k] = v.isoformat()
        elif isinstance(v, bool):
            out[k] = str(v).lower()
        elif isinstance(v, list | tuple):
            out[k] = ",".join(map(str, v))
        elif isinstance(v, Mapping):
            out[k] = ",".join(f"{a}={b}" for a, b in v.items())
        else:
            out[k] = str(v)
    return out


def analysis(model: str, name: str, store: bool, params: Mapping[str, object], body: object = None) -> Call:
    """GET (compute) or POST (compute and store) /models/{model}/{name} with query `params` (None dropped,
    times ISO 8601, booleans lower-case, lists comma-separated, a mapping as key=value pairs)."""
    path = f"{API}/models/{_q(model)}/{name}"
    if body is not None:
        return Call("POST", path, params=_query(params), content=msgspec.json.encode(body),
                    headers={"content-type": "application/json"})
    return Call("POST" if store else "GET", path, params=_query(params))


def multivariate(model: str, start: datetime, end: datetime, store: bool, params: Mapping[str, object]) -> Call:
    """GET (compute) or POST (compute and store) /models/{model}/drift/multivariate."""
    return Call("POST" if store else "GET", f"{API}/models/{_q(model)}/drift/multivariate",
                params=_query({"start": start, "end": end, **params}))


def series_anomalies(body: Mapping[str, object]) -> Call:
    """POST /anomalies with a posted series (stateless: nothing stored, so safe to repeat)."""
    clean: dict[str, object] = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in body.items()
                                if v is not None}
    stamps = clean.get("timestamps")
    if isinstance(stamps, list | tuple):
        clean["timestamps"] = [t.isoformat() if isinstance(t, datetime) else t for t in stamps]
    return Call("POST", f"{API}/anomalies", content=msgspec.json.encode(clean),
                headers={"content-type": "application/json"})


def drift_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per feature and method, with the report's dataset verdict on each."""
    return [{**{k: v for k, v in f.items() if k != "details"}, "dataset_drift": report["dataset_drift"]}
            for f in report["features"]]


def quality_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    extra = {"n_rejected": report["n_rejected"],
             "seconds_since_last_prediction": report["freshness"]["seconds_since_last_prediction"]}
    return [{**{k: v for k, v in f.items() if k != "unseen_top"}, "unseen_top": [u["value"] for u in f["unseen_top"]],
             **extra} for f in report["features"]]


def degradation_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{**{k: v for k, v in m.items() if k != "interval"},
             "ci_low": m["interval"][0] if m["interval"] else None,
             "ci_high": m["interval"][1] if m["interval"] else None, "retrain_window": report["retrain"]}
            for m in report["metrics"]]


def trend_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    tests = {f"{k}_{t['method']}": t[k] for t in report["tests"] for k in ("slope_per_day", "p_value")}
    return [{**p, "direction": report["direction"], **tests} for p in report["points"]]


def result_rows(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "details"} for r in body["results"]]


def results(model: str, start: datetime, end: datetime, analysis: str | None) -> Call:
    q = {"start": start.isoformat(), "end": end.isoformat()}
    if analysis:
        q["analysis"] = analysis
    return Call("GET", f"{API}/models/{_q(model)}/results", params=q)


def parse_json(response: httpx.Response, attempts: int) -> Any:
    if response.status_code >= 300:
        raise api_error(response, attempts)
    return msgspec.json.decode(response.content) if response.content else None


def frame(rows: list[dict[str, Any]]) -> Any:
    """A Polars frame of result rows (nested `details` kept as a struct column)."""
    import polars as pl

    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
