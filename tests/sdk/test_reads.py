"""SDK window reads against a real server: every number of the SDK's frames equals the REST answer it came
from, sync and async, Polars and pandas, for binary, multiclass and regression models (with labels,
latency, segments, several versions)."""

from __future__ import annotations

import math
from datetime import UTC, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import polars as pl
import pytest

from engine.sdk import AsyncClient, Client, DriftlineAPIError
from tests.sdk.conftest import T0

END = T0 + timedelta(hours=3)
CLASSES = {"binary": ["no", "yes"], "multiclass": ["a", "b", "c"]}


def _rows(task: str, n: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Predictions over three hours (versions v1/v2, regions eu/us, a tier on some) and labels for 80 %."""
    rng = np.random.default_rng(seed)
    preds, labels = [], []
    for i in range(n):
        row: dict[str, Any] = {
            "prediction_id": f"{task}-{i}", "time": (T0 + timedelta(seconds=int(rng.integers(0, 3 * 3600)))).isoformat(),
            "latency_ms": float(rng.gamma(2.0, 5.0)), "features": {"x": float(rng.normal())},
            "segments": {"region": str(rng.choice(["eu", "us"])), **({"tier": "gold"} if i % 4 == 0 else {})},
        }
        if task == "regression":
            y = float(rng.normal(10, 3))
            row["prediction"] = y + float(rng.normal(0, 1))
            label: Any = y
        elif task == "binary":
            row["score"] = float(rng.uniform())
            label = CLASSES[task][int(rng.uniform() < row["score"])]
        else:
            p = rng.dirichlet([1.0, 1.0, 1.0])
            row["probabilities"] = [float(v) for v in p[:2]] + [1.0 - float(p[0]) - float(p[1])]
            label = str(rng.choice(CLASSES[task], p=p))
        preds.append(row)
        if i % 5:
            labels.append({"prediction_id": row["prediction_id"], "label": label})
    return preds, labels


def _setup(url: str, task: str) -> str:
    name = f"m_{task}"
    preds, labels = _rows(task, 300, seed={"binary": 1, "multiclass": 2, "regression": 3}[task])
    with Client(url) as dl:
        dl.create_model(name, task, [{"name": "x", "kind": "numeric"}], class_labels=CLASSES.get(task),
                        dimensions=["region", "tier"])
        dl.create_version(name, "v1")
        dl.create_version(name, "v2")
        dl.log_predictions(name, preds[:150], version="v1")
        dl.log_predictions(name, preds[150:], version="v2")
        dl.log_labels(name, labels)
        dl.log_metrics([{"name": "cost", "value": float(i % 7) / 3, "time": (T0 + timedelta(minutes=i)).isoformat(),
                         "tags": {"env": "prod" if i % 2 else "dev"}} for i in range(120)], model=name)
    return name


def _rest(url: str, path: str, params: dict[str, str]) -> Any:
    r = httpx.get(url + path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return b is None
    return bool(a == b)


def _group(point: dict[str, Any], keys: list[str]) -> tuple[Any, ...]:
    g = point["group"]
    return tuple(g.get(k) for k in keys) if isinstance(g, dict) else (g,) if keys else ()


def _check_metrics(frame: pl.DataFrame, body: dict[str, Any], keys: list[str]) -> None:
    """Every value, sample size, interval bound, error bound, per-class rate and count of the REST body is
    in the frame row of its (bucket, group), and the frame has no other rows."""
    assert frame.height == len(body["points"])
    assert frame.schema["bucket"] == pl.Datetime("us", "UTC")
    labels = body["class_labels"] or []
    rows = {(r["bucket"].isoformat(), *(r[k] for k in keys)): r for r in frame.iter_rows(named=True)}
    for p in body["points"]:
        bucket = p["bucket"].replace("Z", "+00:00")
        row = rows[(bucket, *_group(p, keys))]
        for m in body["metrics"]:
            if not m.endswith("_per_class"):
                assert _same(row[m], p["values"].get(m)), (m, row[m], p["values"].get(m))
        for m, basis in body["sample_basis"].items():
            assert row[f"{m}_n"] == p["sample_sizes"].get(basis)
        for m, (lo, hi) in p["intervals"].items():
            assert (row[f"{m}_lo"], row[f"{m}_hi"]) == (lo, hi)
        for m, b in p["error_bounds"].items():
            assert row[f"{m}_error_bound"] == b
        for m, by_class in p["per_class"].items():
            for c, v in by_class.items():
                assert _same(row[f"{m}[{c}]"], v)
        for m, by_class in p["per_class_intervals"].items():
            for c, (lo, hi) in by_class.items():
                assert (row[f"{m}[{c}]_lo"], row[f"{m}[{c}]_hi"]) == (lo, hi)
        if "confusion_matrix" in p:
            for i, a in enumerate(labels):
                for j, c in enumerate(labels):
                    assert row[f"confusion[{a}][{c}]"] == p["confusion_matrix"][i][j]
        if "predicted_classes" in p:
            for c, v in p["predicted_classes"].items():
                assert row[f"predicted[{c}]"] == v


READS: list[dict[str, Any]] = [
    {"granularity": "1h"},
    {"granularity": "15m", "group_by": ["version", "region"], "filter": {"tier": "gold"}},
    {"granularity": "auto", "group_by": "version", "max_points": 4},
]


def _params(read: dict[str, Any], include: list[str]) -> dict[str, str]:
    out = {"start": T0.isoformat(), "end": END.isoformat(), "granularity": read["granularity"]}
    if "group_by" in read:
        g = read["group_by"]
        out["group_by"] = g if isinstance(g, str) else ",".join(g)
    if "filter" in read:
        out["filter"] = ",".join(f"{k}={v}" for k, v in read["filter"].items())
    if "max_points" in read:
        out["max_points"] = str(read["max_points"])
    if include:
        out["include"] = ",".join(include)
    return out


def _keys(read: dict[str, Any]) -> list[str]:
    g = read.get("group_by")
    return [] if g is None else [g] if isinstance(g, str) else list(g)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
async def test_window_metrics_frames_equal_the_rest_answers(server_url: str, task: str) -> None:
    name = _setup(server_url, task)
    include = ["confusion_matrix", "class_distribution"] if task != "regression" else []
    path = f"/api/v1/models/{name}/windows/metrics"
    with Client(server_url) as dl:
        for read in READS:
            body = _rest(server_url, path, _params(read, include))
            assert body["points"]
            kw = {k: v for k, v in read.items()}
            frame = dl.window_metrics(name, T0, END, include=include, **kw)
            _check_metrics(frame, body, _keys(read))
    async with AsyncClient(server_url) as adl:
        for read in READS:
            body = _rest(server_url, path, _params(read, include))
            frame = await adl.window_metrics(name, T0, END, include=include, **read)
            _check_metrics(frame, body, _keys(read))
        # a subset of metrics, as pandas: same numbers, tz-aware UTC buckets
        metrics = ["count", "accuracy"] if task != "regression" else ["count", "rmse"]
        body = _rest(server_url, path, {**_params(READS[0], []), "metrics": ",".join(metrics)})
        pdf = await adl.window_metrics(name, T0, END, granularity="1h", metrics=metrics, frame="pandas")
    assert isinstance(pdf, pd.DataFrame)
    assert str(pdf["bucket"].dt.tz) == "UTC"
    _check_metrics(pl.from_pandas(pdf).with_columns(pl.col("bucket").dt.cast_time_unit("us")), body, [])
    assert set(pdf.columns) >= {"bucket", *metrics, *(f"{m}_n" for m in metrics)}
    # the frame counts what was logged
    assert int(pdf["count"].sum()) == 300


async def test_custom_metric_and_feature_frames_equal_the_rest_answers(server_url: str) -> None:
    name = _setup(server_url, "binary")
    params = {"start": T0.isoformat(), "end": END.isoformat(), "granularity": "1h", "model": name,
              "group_by": "env"}
    body = _rest(server_url, "/api/v1/metrics/cost/windows", params)
    with Client(server_url) as dl:
        frame = dl.custom_metric_windows("cost", T0, END, granularity="1h", model=name, group_by="env")
        baseline = pl.DataFrame({"x": np.random.default_rng(9).normal(size=200)})
        dl.create_baseline(name, "ref", baseline)
        feats_body = _rest(server_url, f"/api/v1/models/{name}/windows/features",
                           {"start": T0.isoformat(), "end": END.isoformat(), "granularity": "1h"})
        feats = dl.feature_windows(name, T0, END, granularity="1h")
    assert frame.columns == ["bucket", "env", "count", "mean", "std", "min", "max", "sum"]
    assert frame.height == len(body["points"]) > 0
    for row, p in zip(frame.iter_rows(named=True), body["points"], strict=True):
        assert row["bucket"].isoformat() == p["bucket"].replace("Z", "+00:00") and row["env"] == p["group"]
        assert [row[k] for k in ("count", "mean", "std", "min", "max", "sum")] == [
            p[k] for k in ("count", "mean", "std", "min", "max", "sum")]
    assert int(frame["count"].sum()) == 120
    async with AsyncClient(server_url) as adl:
        again = await adl.custom_metric_windows("cost", T0, END, granularity="1h", model=name, group_by="env")
        feats_async = await adl.feature_windows(name, T0, END, granularity="1h", frame="pandas")
    assert again.equals(frame)
    assert feats.height == len(feats_body["points"]) > 0
    for row, p in zip(feats.iter_rows(named=True), feats_body["points"], strict=True):
        assert (row["feature"], row["n"], row["missing"], row["out_of_range"], row["counts"]) == (
            p["feature"], p["n"], p["missing"], p["out_of_range"], p["counts"])
    assert int(feats["n"].sum()) == 300 and len(feats_async) == feats.height


async def test_reads_raise_the_api_errors_and_retry_like_the_writes(server_url: str) -> None:
    name = _setup(server_url, "regression")
    with Client(server_url) as dl:
        with pytest.raises(DriftlineAPIError) as err:
            dl.window_metrics(name, T0, END, group_by="planet")
        assert err.value.status == 422 and "group_by" in str(err.value)
        with pytest.raises(DriftlineAPIError) as err:
            dl.window_metrics("nope", T0, END)
        assert err.value.status == 404
        with pytest.raises(ValueError, match="frame"):
            dl.window_metrics(name, T0, END, frame="arrow")  # type: ignore[arg-type]
        assert dl.get_version(name, "v2").version == "v2"
        empty = dl.window_metrics(name, END + timedelta(days=1), END + timedelta(days=2), granularity="1h",
                                  group_by="version")
        assert empty.height == 0 and {"bucket", "version", "count", "rmse"} <= set(empty.columns)
        assert empty.schema["bucket"] == pl.Datetime("us", "UTC")
    assert T0.tzinfo is UTC


async def test_a_read_whose_answer_was_lost_or_refused_is_retried(server_url: str) -> None:
    import random

    from engine.sdk import RetryPolicy
    from tests.sdk.servers import FaultProxy

    name = _setup(server_url, "binary")
    port = int(server_url.rsplit(":", 1)[1])
    fast = RetryPolicy(max_attempts=4, initial_delay=0.0, max_delay=0.0)
    with FaultProxy(port, drop_responses=1, answer_503=1) as proxy, \
            Client(proxy.url, retry=fast, rng=random.Random(0)) as dl:
        frame = dl.window_metrics(name, T0, END, granularity="1h", metrics=["count"])
    assert proxy.log.answered_503 == 1 and proxy.log.dropped == 1
    assert int(frame["count"].sum()) == 300


def test_the_sdk_imports_polars_only_to_build_a_frame() -> None:
    import subprocess
    import sys

    code = ("import sys, engine.sdk, engine.sdk.reads as r; from datetime import datetime, UTC; "
            "r.model_metrics('m', datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), 'auto', "
            "['version'], {'tier': 'gold'}, ['count'], (), None); "
            "assert 'polars' not in sys.modules and 'pandas' not in sys.modules, 'imported at import'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
