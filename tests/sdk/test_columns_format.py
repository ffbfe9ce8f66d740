"""The columnar form of the window metric reads (`format=columns`): for binary, multiclass and regression
models, ungrouped, grouped by several keys and filtered, with the includes, every element of every array
equals the point form's value for its (bucket, group), and nothing else is in either; the SDK's frames (built
from the columnar answer) equal frames built from the point answer; the schema is documented."""

from __future__ import annotations

import math
from typing import Any

import httpx
import msgspec
import polars as pl
import pytest

from engine.sdk import Client
from engine.sdk.reads import metric_frame
from tests.sdk.conftest import T0
from tests.sdk.test_reads import END, READS, _keys, _params, _rest, _setup

MORE_READS: list[dict[str, Any]] = [
    *READS,
    {"granularity": "1m", "group_by": "tier"},
    {"granularity": "5m", "group_by": ["region", "tier", "version"]},
]


def _point_key(p: dict[str, Any], keys: list[str]) -> tuple[Any, ...]:
    g = p["group"]
    return (p["bucket"], *(tuple(g.get(k) for k in keys) if isinstance(g, dict) else (g,) if keys else ()))


def _as_points(body: dict[str, Any], keys: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The columnar body unrolled into point-shaped dicts, leaving out what is null (as a point leaves it out)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for s in body["series"]:
        for i, t in enumerate(s["time"]):
            p: dict[str, Any] = {"bucket": t, "group": s["group"]}
            p["values"] = {m: v[i] for m, v in s["values"].items()}
            p["sample_sizes"] = {b: v[i] for b, v in s["sample_sizes"].items()}
            p["intervals"] = {m: [b["lower"][i], b["upper"][i]] for m, b in s["intervals"].items()
                              if b["lower"][i] is not None}
            p["error_bounds"] = {m: v[i] for m, v in s["error_bounds"].items() if v[i] is not None}
            p["per_class"] = {m: {c: v[i] for c, v in by.items()} for m, by in s["per_class"].items()
                              if any(v[i] is not None for v in by.values())}
            pci = {m: {c: [b["lower"][i], b["upper"][i]] for c, b in by.items() if b["lower"][i] is not None}
                   for m, by in s["per_class_intervals"].items()}
            p["per_class_intervals"] = {m: by for m, by in pci.items() if by}
            if "confusion_matrix" in s:
                p["confusion_matrix"] = s["confusion_matrix"][i]
            if "predicted_classes" in s:
                p["predicted_classes"] = {c: v[i] for c, v in s["predicted_classes"].items()}
            key = _point_key(p, keys)
            assert key not in out, key
            out[key] = p
    return out


def _close(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-12 relative: two reads of raw rows may sum floats in another order."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return bool(a == b)


def _normalised(p: dict[str, Any]) -> dict[str, Any]:
    """A point with what the columnar form cannot tell apart from absence dropped (null values, per-class
    rates that are all null)."""
    q = dict(p)
    q["values"] = {m: v for m, v in p["values"].items() if v is not None}
    q["per_class"] = {m: by for m, by in p.get("per_class", {}).items() if any(v is not None for v in by.values())}
    for k in ("intervals", "error_bounds", "per_class_intervals", "sample_sizes"):
        q[k] = p.get(k, {})
    return q


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
async def test_columns_equal_points(server_url: str, task: str) -> None:
    name = _setup(server_url, task)
    include = ["confusion_matrix", "class_distribution"] if task != "regression" else []
    path = f"/api/v1/models/{name}/windows/metrics"
    for read in MORE_READS:
        params = _params(read, include)
        points = _rest(server_url, path, params)
        columns = _rest(server_url, path, {**params, "format": "columns"})
        assert columns["format"] == "columns" and "points" not in columns
        header = {k: v for k, v in points.items() if k != "points"}
        assert {k: v for k, v in columns.items() if k not in ("series", "format")} == header
        keys = _keys(read)
        unrolled = _as_points(columns, keys)
        assert len(unrolled) == len(points["points"]) > 0
        for p in points["points"]:
            got = _normalised(unrolled[_point_key(p, keys)])
            want = _normalised(p)
            for k in ("values", "sample_sizes", "intervals", "error_bounds", "per_class", "per_class_intervals",
                      "confusion_matrix", "predicted_classes"):
                assert _close(got.get(k), want.get(k)), (k, got.get(k), want.get(k))
        # buckets ascend within each series
        for s in columns["series"]:
            assert s["time"] == sorted(s["time"])

        # the SDK builds the same frame from either form
        sort = ["bucket", *keys]
        from_points = metric_frame(httpx.get(server_url + path, params=params), 1, "polars")
        from_columns = metric_frame(httpx.get(server_url + path, params={**params, "format": "columns"}), 1,
                                    "polars")
        assert sorted(from_points.columns) == sorted(from_columns.columns)
        a = from_points.select(sorted(from_points.columns)).sort(sort, nulls_last=True)
        b = from_columns.select(sorted(from_columns.columns)).sort(sort, nulls_last=True)
        assert a.height == b.height and a.columns == b.columns
        for col in a.columns:
            assert _close(a[col].to_list(), b[col].to_list()), (read, col)
    with Client(server_url) as dl:  # the SDK asks for the columnar form
        frame = dl.window_metrics(name, T0, END, granularity="1h", group_by="region")
    assert int(frame["count"].sum()) == 300 and isinstance(frame, pl.DataFrame)


async def test_columns_bad_format_and_schema(server_url: str) -> None:
    name = _setup(server_url, "binary")
    r = httpx.get(f"{server_url}/api/v1/models/{name}/windows/metrics",
                  params={"start": T0.isoformat(), "end": END.isoformat(), "format": "rows"})
    assert r.status_code == 400 and "format" in r.text
    schema = msgspec.json.decode(httpx.get(f"{server_url}/schema/openapi.json").content)
    op = schema["paths"]["/api/v1/models/{name}/windows/metrics"]["get"]
    assert any(p["name"] == "format" for p in op["parameters"])
    assert "MetricColumns" in str(op["responses"]["200"])
