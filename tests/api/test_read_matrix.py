"""Every read endpoint, for every model task and every shape of data (with and without latency, labels,
features with an active baseline, declared segments), through the real app: models are created and fed
through the REST API, and every answer is a 2xx whose values equal numpy / scikit-learn on the rows sent
(`read_matrix_data`). One database per phase: "pending" reads before any window refresh (raw rows merged
in), "refreshed" after one (the window relations alone)."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from engine.config import AnalyticsSettings, Settings
from tests.api.read_matrix_data import (
    CASES,
    CATEGORIES,
    EDGES,
    LOWER,
    SPAN,
    T0,
    UPPER,
    Case,
    Expected,
    expected_custom,
    expected_features,
    expected_metrics,
    prediction_json,
)
from tests.conftest import create_database, drop_database, refresh_windows

# Every GET route of the app (Litestar's path templates) and the test below that reads it; the OpenAPI
# document and its viewers are not data. A new read endpoint fails `test_every_read_endpoint_is_covered`
# until it is added here and to a test.
READ_ENDPOINTS = {
    "/health/live": "test_every_read_endpoint_is_covered",
    "/health/ready": "test_every_read_endpoint_is_covered",
    "/api/v1/models": "test_every_read_endpoint_is_covered",
    "/api/v1/models/{name:str}": "test_registry_reads",
    "/api/v1/models/{name:str}/versions": "test_registry_reads",
    "/api/v1/models/{name:str}/versions/{version:str}": "test_registry_reads",
    "/api/v1/rejected": "test_registry_reads",
    "/api/v1/models/{name:str}/windows/metrics": "test_model_metrics, test_grouped_metrics, test_exact_ranges",
    "/analytics/model/{name:str}/metrics": "test_model_metrics, test_grouped_metrics",
    "/analytics/model/{name:str}/predictions": "test_model_metrics",
    "/api/v1/models/{name:str}/windows/features": "test_feature_windows",
    "/api/v1/metrics/{metric:str}/windows": "test_custom_metric_windows",
    "/api/v1/models/{name:str}/baselines": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/baselines/{baseline:str}": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/drift": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/drift/multivariate": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/results": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/quality": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/degradation": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/performance-summary": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/trend": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/anomalies": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/compare": "test_baselines_drift_and_results",
    "/api/v1/models/{name:str}/estimated-performance": "test_baselines_drift_and_results",
    "/api/v1/metrics": "test_metric_catalog",
    "/analytics/jobs": "test_read_matrix_jobs.py: test_analytics_jobs",
    "/analytics/jobs/{job_id:str}": "test_read_matrix_jobs.py: test_analytics_jobs",
    "/analytics/jobs/{job_id:str}/runs": "test_read_matrix_jobs.py: test_analytics_jobs",
    "/api/v1/monitors": "test_monitors",
    "/api/v1/models/{name:str}/monitors": "test_monitors",
    "/api/v1/models/{name:str}/monitors/{monitor:str}": "test_monitors",
    "/api/v1/models/{name:str}/monitors/{monitor:str}/runs": "test_monitors",
    "/api/v1/models/{name:str}/monitors/{monitor:str}/runs/{run_id:int}": "test_monitors",
    "/api/v1/admin/keys": "test_every_read_endpoint_is_covered (model-independent; tests/access/test_keys.py)",
}
RANGE = {"start": T0.isoformat(), "end": (T0 + SPAN).isoformat()}
by_case = pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)


async def _ok(served: AsyncTestClient, method: str, path: str, **kwargs: Any) -> Any:
    if method == "POST" and "json" not in kwargs and "content" not in kwargs:
        kwargs["headers"] = {"content-type": "application/json", **kwargs.get("headers", {})}  # the API's rule
    r = await served.request(method, path, **kwargs)
    assert 200 <= r.status_code < 300, (method, path, kwargs.get("params"), r.status_code, r.text)
    return r.json()


async def ingest(served: AsyncTestClient, case: Case) -> None:
    await _ok(served, "POST", "/api/v1/models", json=case.model_body())
    for version, stage in (("v1", "production"), ("v2", "staging")):
        await _ok(served, "POST", f"/api/v1/models/{case.name}/versions", json={"version": version, "stage": stage})
    v1 = [prediction_json(r) for r in case.rows if r.version == "v1"]
    v2 = [prediction_json(r) for r in case.rows if r.version == "v2"]
    # one row without a time, refused in partial mode, for /api/v1/rejected
    out = await _ok(served, "POST", f"/api/v1/models/{case.name}/predictions", params={"partial": "true"},
                    json=[*v1, {"prediction_id": "no-time"}])
    assert (out["written"], out["rejected"]) == (len(v1), 1), out
    out = await _ok(served, "POST", f"/api/v1/models/{case.name}/predictions", params={"version": "v2"}, json=v2)
    assert out["written"] == len(v2), out
    labels = [{"prediction_id": r.pid, "label": r.label, "label_time": r.label_time.isoformat()}
              for r in case.rows if r.label is not None and r.label_time is not None]
    if labels:
        assert (await _ok(served, "POST", f"/api/v1/models/{case.name}/labels", json=labels))["written"] == len(labels)
    metrics = [{"name": "cost", "value": v, "time": t.isoformat(), "tags": {"env": e}} for t, v, e in case.metrics]
    await _ok(served, "POST", "/api/v1/metrics", params={"model": case.name}, json=metrics)


async def add_baselines(url: str) -> None:
    """Active baselines for the feature variants (no endpoint creates them yet), after the data: the
    windows re-bin history."""
    conn = await asyncpg.connect(url)
    try:
        for case in CASES:
            if case.has("features"):
                mid = await conn.fetchval("SELECT id FROM models WHERE name = $1", case.name)
                await conn.execute("INSERT INTO feature_baselines (model_id, feature, kind, edges, lower, upper)"
                                   " VALUES ($1, 'x', 'numeric', $2, $3, $4)", mid, EDGES, LOWER, UPPER)
                await conn.execute("INSERT INTO feature_baselines (model_id, feature, kind, categories)"
                                   " VALUES ($1, 'c', 'categorical', $2)", mid, CATEGORIES)
    finally:
        await conn.close()


@pytest.fixture(scope="module", params=["pending", "refreshed"])
async def served(
    request: pytest.FixtureRequest, cluster_url: str, template_db: str, background_drops: list[asyncio.Task[None]],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[AsyncTestClient]:
    name = f"driftline_t_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name, template=template_db)
    files = tmp_path_factory.mktemp("analytics")
    analytics = AnalyticsSettings(input_root=str(files / "in"), output_path=str(files / "out"))
    try:
        async with AsyncTestClient(app=create_app(Settings(database_url=url, pool_max_size=4,
                                                           analytics=analytics))) as c:
            for case in CASES:
                await ingest(c, case)
            await add_baselines(url)
            if request.param == "refreshed":
                pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
                try:
                    await refresh_windows(pool)
                finally:
                    await pool.close()
            yield c
    finally:
        background_drops.append(asyncio.get_running_loop().create_task(drop_database(cluster_url, name)))


def _group_key(group: Any) -> Any:
    """A point's group as a dict key: several keys' values as a tuple in key order."""
    return tuple(group.values()) if isinstance(group, dict) else group


def _points(body: dict[str, Any]) -> dict[tuple[datetime, Any], dict[str, Any]]:
    out = {(datetime.fromisoformat(p["bucket"]), _group_key(p["group"])): p for p in body["points"]}
    assert len(out) == len(body["points"]), "one point per (bucket, group)"
    return out


def _close(got: Any, want: float) -> bool:
    return got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def assert_point(point: dict[str, Any], want: Expected, what: str) -> None:
    values, bounds = point["values"], point["error_bounds"]
    for name, v in want.exact.items():
        if v is None:  # no data for it here: null or left out
            assert values.get(name) is None, (what, name, values.get(name))
        else:
            assert _close(values.get(name), v), (what, name, values.get(name), v)
    for name, v in want.bounded.items():
        if v is None:
            assert values.get(name) is None and name not in bounds, (what, name, values.get(name))
        else:
            got, bound = values.get(name), bounds.get(name, 0.0)
            assert got is not None and abs(got - v) <= bound * (1 + 1e-9) + 1e-12, (what, name, got, v, bound)
    recalls = point["per_class"].get("recall_per_class", {})
    for label, v in want.recall_per_class.items():
        assert _close(recalls.get(label), v), (what, label, recalls, v)
    if "count" in values:
        assert isinstance(values["count"], int), (what, values["count"])
    for basis, n in want.sample_sizes.items():
        if basis in point["sample_sizes"]:
            assert point["sample_sizes"][basis] == n, (what, basis, point["sample_sizes"], n)
    for name, (lo, hi) in want.intervals.items():
        if name in values:
            got_iv = point["intervals"].get(name)
            assert got_iv is not None and _close(got_iv[0], lo) and _close(got_iv[1], hi), (what, name, got_iv, lo, hi)
    if "confusion_matrix" in point:
        assert point["confusion_matrix"] == (want.confusion or [[0] * len(point["confusion_matrix"])] * len(
            point["confusion_matrix"])), (what, point["confusion_matrix"], want.confusion)
    if "predicted_classes" in point:
        assert point["predicted_classes"] == want.predicted, (what, point["predicted_classes"], want.predicted)


def assert_series(body: dict[str, Any], want: dict[tuple[datetime, str | None], Expected], what: str) -> None:
    got = _points(body)
    assert set(got) == set(want), (what, sorted(got), sorted(want))
    for key, expected in want.items():
        assert_point(got[key], expected, f"{what} {key}")


@by_case
async def test_model_metrics(served: AsyncTestClient, case: Case) -> None:
    """The default metric list (every metric of the task) per hour and per day, and the two analytics
    aliases over the same range."""
    for level in ("1h", "1d"):
        params = {**RANGE, "granularity": level}
        body = await _ok(served, "GET", f"/api/v1/models/{case.name}/windows/metrics", params=params)
        assert (body["task"], body["granularity"], body["group_by"]) == (case.task, level, None)
        assert_series(body, expected_metrics(case, level), f"{case.name} {level}")
        alias = await _ok(served, "GET", f"/analytics/model/{case.name}/metrics", params=params)
        assert alias == body
        general = await _ok(served, "GET", f"/analytics/model/{case.name}/predictions", params=params)
        for key, point in _points(general).items():
            full = _points(body)[key]["values"]
            for name, v in point["values"].items():  # the same figure (last-ulp differences in the quantiles)
                assert v == full[name] or _close(v, full[name]), (case.name, level, key, name, v, full[name])
            assert "count" in point["values"] and "accuracy" not in point["values"]


@by_case
async def test_grouped_metrics(served: AsyncTestClient, case: Case) -> None:
    """Every group_by option: by version and by each declared dimension; an undeclared one is a 422."""
    keys = {"version": lambda r: r.version, **{d: (lambda r: r.region) for d in case.dimensions}}
    for group_by, key in keys.items():
        params = {**RANGE, "granularity": "1h", "group_by": group_by}
        body = await _ok(served, "GET", f"/api/v1/models/{case.name}/windows/metrics", params=params)
        assert_series(body, expected_metrics(case, "1h", key), f"{case.name} by {group_by}")
        assert await _ok(served, "GET", f"/analytics/model/{case.name}/metrics", params=params) == body
    r = await served.get(f"/api/v1/models/{case.name}/windows/metrics", params={**RANGE, "group_by": "planet"})
    assert r.status_code == 422 and "group_by" in r.text, r.text


# Ranges that start and end inside buckets of every granularity (and one inside a single minute's span).
PARTIAL = [(T0 + timedelta(minutes=17), T0 + timedelta(hours=2, minutes=43)),
           (T0 + timedelta(minutes=59), T0 + timedelta(hours=1, minutes=1))]
GRANULARITIES = ("1m", "5m", "15m", "1h", "6h", "1d", "1w")


def _range(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


@by_case
async def test_exact_ranges(served: AsyncTestClient, case: Case) -> None:
    """Every granularity over ranges that start and end inside buckets: the points hold exactly the rows of
    [start, end) (edge buckets partial, throughput over the seconds covered), echo that range, carry sample
    sizes and Wilson intervals (scipy's), and, for classifiers, the confusion matrix and predicted classes."""
    include = {"include": "confusion_matrix,class_distribution"} if case.classes else {}
    for start, end in PARTIAL:
        for g in GRANULARITIES:
            params = {**_range(start, end), "granularity": g, **include}
            body = await _ok(served, "GET", f"/api/v1/models/{case.name}/windows/metrics", params=params)
            echoed = (datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"]))
            assert (body["granularity"], *echoed) == (g, start, end), body
            assert body["interval"] == {"method": "wilson", "confidence": 0.95}
            assert body["sample_basis"]["accuracy" if case.classes else "mae"] == "labelled"
            assert_series(body, expected_metrics(case, g, start=start, end=end), f"{case.name} {g} [{start}, {end})")
    start, end = PARTIAL[0]
    feats = await _ok(served, "GET", f"/api/v1/models/{case.name}/windows/features",
                      params={**_range(start, end), "granularity": "15m"})
    if case.has("features"):
        got = {(datetime.fromisoformat(p["bucket"]), p["feature"]):
               {k: p[k] for k in ("n", "missing", "out_of_range", "counts")} for p in feats["points"]}
        assert got == expected_features(case, "15m", start, end)
    custom = await _ok(served, "GET", "/api/v1/metrics/cost/windows",
                       params={**_range(start, end), "granularity": "5m", "model": case.name, "group_by": "env"})
    want = expected_custom(case, "5m", True, start, end)
    got_c = {(datetime.fromisoformat(p["bucket"]), p["group"]): p for p in custom["points"]}
    assert set(got_c) == set(want)
    for key, w in want.items():
        assert all(_close(got_c[key][k], v) for k, v in w.items()), (case.name, key, got_c[key], w)


@by_case
async def test_grouped_and_filtered_partial_ranges(served: AsyncTestClient, case: Case) -> None:
    """Grouping (version, each dimension) and segment filters at multiples of the stored levels over a
    partial range; a filter on an undeclared key is a 422 that speaks of the read."""
    start, end = PARTIAL[0]
    keys = {"version": lambda r: r.version, **{d: (lambda r: r.region) for d in case.dimensions}}
    for group_by, key in keys.items():
        for g in ("15m", "6h"):
            params = {**_range(start, end), "granularity": g, "group_by": group_by}
            body = await _ok(served, "GET", f"/api/v1/models/{case.name}/windows/metrics", params=params)
            assert_series(body, expected_metrics(case, g, key, start, end), f"{case.name} by {group_by} {g}")
    if case.dimensions:  # two keys: version and the segment
        params = {**_range(start, end), "granularity": "15m", "group_by": "version,region"}
        body = await _ok(served, "GET", f"/api/v1/models/{case.name}/windows/metrics", params=params)
        assert all(list(p["group"]) == ["version", "region"] for p in body["points"])
        assert_series(body, expected_metrics(case, "15m", lambda r: (r.version, r.region), start, end),  # type: ignore[arg-type, return-value]
                      f"{case.name} by version,region")
    for region in case.dimensions and ["eu", "us"]:
        for group_by in (None, "version"):
            params = {**_range(start, end), "granularity": "1h", "filter": f"region={region}"}
            if group_by:
                params["group_by"] = group_by
            body = await _ok(served, "GET", f"/api/v1/models/{case.name}/windows/metrics", params=params)
            assert body["filters"] == {"region": region}
            want = expected_metrics(case, "1h", (lambda r: r.version) if group_by else (lambda r: None), start, end,
                                    keep=lambda r, reg=region: r.region == reg)
            assert_series(body, want, f"{case.name} region={region} by {group_by}")
    r = await served.get(f"/api/v1/models/{case.name}/windows/metrics", params={**RANGE, "filter": "planet=mars"})
    assert r.status_code == 422 and "read parameter filter" in r.text and "batch" not in r.text, r.text


@by_case
async def test_feature_windows(served: AsyncTestClient, case: Case) -> None:
    for level in ("1h", "1d"):
        body = await _ok(served, "GET", f"/api/v1/models/{case.name}/windows/features",
                         params={**RANGE, "granularity": level})
        if not case.has("features"):  # nothing declared, no baseline: an empty series
            assert (body["baselines"], body["points"]) == ([], []), body
            continue
        assert {b["feature"] for b in body["baselines"]} == {"x", "c"}
        got = {(datetime.fromisoformat(p["bucket"]), p["feature"]):
               {k: p[k] for k in ("n", "missing", "out_of_range", "counts")} for p in body["points"]}
        assert got == expected_features(case, level), (case.name, level)


@by_case
async def test_custom_metric_windows(served: AsyncTestClient, case: Case) -> None:
    for level, group_by in (("1h", None), ("1h", "env"), ("1d", "env")):
        params = {**RANGE, "granularity": level, "model": case.name}
        if group_by:
            params["group_by"] = group_by
        body = await _ok(served, "GET", "/api/v1/metrics/cost/windows", params=params)
        want = expected_custom(case, level, by_env=group_by is not None)
        got = {(datetime.fromisoformat(p["bucket"]), p["group"]): p for p in body["points"]}
        assert set(got) == set(want), (case.name, level, group_by)
        for key, w in want.items():
            for name, v in w.items():
                assert _close(got[key][name], v), (case.name, level, key, name, got[key][name], v)


@by_case
async def test_metric_catalog(served: AsyncTestClient, case: Case) -> None:
    body = await _ok(served, "GET", "/api/v1/metrics", params={"model": case.name})
    times = [t for t, _, _ in case.metrics]
    minute = timedelta(minutes=1)
    first = min(times).replace(second=0, microsecond=0)
    last = max(times).replace(second=0, microsecond=0) + minute
    assert [{**e, "first": datetime.fromisoformat(e["first"]), "last": datetime.fromisoformat(e["last"])}
            for e in body] == [{"name": "cost", "model": case.name, "first": first, "last": last,
                                "count": len(case.metrics)}]
    everything = await _ok(served, "GET", "/api/v1/metrics")
    assert sorted(e["model"] for e in everything) == sorted(c.name for c in CASES)


@by_case
async def test_registry_reads(served: AsyncTestClient, case: Case) -> None:
    model = await _ok(served, "GET", f"/api/v1/models/{case.name}")
    sent = case.model_body()
    assert {k: model[k] for k in ("name", "task", "class_labels", "threshold", "dimensions")} == {
        k: sent[k] for k in ("name", "task", "class_labels", "threshold", "dimensions")}
    assert [(f["name"], f["kind"]) for f in model["features"]] == [(f["name"], f["kind"]) for f in sent["features"]]
    versions = await _ok(served, "GET", f"/api/v1/models/{case.name}/versions")
    assert sorted((v["version"], v["stage"]) for v in versions) == [("v1", "production"), ("v2", "staging")]
    v2 = await _ok(served, "GET", f"/api/v1/models/{case.name}/versions/v2")
    assert (v2["version"], v2["stage"]) == ("v2", "staging")
    rejected = await _ok(served, "GET", "/api/v1/rejected", params={"model": case.name})
    bad_row = sum(r.version == "v1" for r in case.rows)  # the last row of the v1 batch, one error per field
    assert {(x["kind"], x["model_id"], x["row_index"], x["payload"]["prediction_id"]) for x in rejected} == {
        ("predictions", model["id"], bad_row, "no-time")}
    assert "time" in {x["field"] for x in rejected}


@by_case
async def test_baselines_drift_and_results(served: AsyncTestClient, case: Case) -> None:
    """A baseline from the first half of the stored range, drift of the second half against it, the stored
    results: for every task and shape of data. Sample sizes equal the rows sent (numpy-free counting)."""
    base, mid = f"/api/v1/models/{case.name}", T0 + SPAN / 2
    halves = {"reference": (T0, mid), "current": (mid, T0 + SPAN)}
    created = await _ok(served, "POST", f"{base}/baselines/",
                        json={"name": "matrix-ref", "start": T0.isoformat(), "end": mid.isoformat()})
    assert created["info"]["active"], created["info"]
    listed = await _ok(served, "GET", f"{base}/baselines/")
    assert [(b["name"], b["active"]) for b in listed if b["name"] == "matrix-ref"] == [("matrix-ref", True)]
    detail = await _ok(served, "GET", f"{base}/baselines/matrix-ref")
    assert {f["feature"] for f in detail["features"]} == ({"x", "c"} if case.has("features") else set())
    params = {"start": mid.isoformat(), "end": (T0 + SPAN).isoformat()}
    report = await _ok(served, "GET", f"{base}/drift", params=params)
    assert {f["feature"] for f in report["features"]} == ({"x", "c"} if case.has("features") else set())
    for f in report["features"]:
        for side, (lo, hi) in halves.items():
            want = sum(1 for r in case.rows if lo <= r.time < hi and getattr(r, f["feature"]) is not None)
            assert f[f"n_{side}"] == want, (case.name, f["feature"], side, f[f"n_{side}"], want)
    stored = await _ok(served, "POST", f"{base}/drift", params=params)
    # one version and / or one segment value: binned from exactly those raw rows
    scope = {"version": "v2", **({"filter": "region=eu"} if case.has("segments") else {})}
    scoped = await _ok(served, "GET", f"{base}/drift", params={**params, **scope})
    assert scoped["source"] == "raw_rows" and scoped["version"] == "v2", scoped
    for f in scoped["features"]:
        want = sum(1 for r in case.rows if mid <= r.time < T0 + SPAN and r.version == "v2" and getattr(r, f["feature"])
                   is not None and (not case.has("segments") or r.region == "eu"))
        assert f["n_current"] == want, (case.name, f["feature"], f["n_current"], want)
    for method in ("domain_classifier", "pca"):
        mv = await _ok(served, "GET", f"{base}/drift/multivariate", params={**params, "method": method})
        rows = {side: sum(1 for r in case.rows if lo <= r.time < hi) for side, (lo, hi) in halves.items()}
        if case.has("features"):
            assert (mv["n_reference"], mv["n_current"]) == (rows["reference"], rows["current"]), (case.name, mv)
            assert mv["status"] in ("ok", "insufficient_data") and mv["features"] == ["x", "c"], (case.name, mv)
        else:  # no features: an empty result, as univariate drift gives an empty report
            assert (mv["status"], mv["statistic"], mv["drift"]) == ("no_features", None, False), (case.name, mv)
    results = await _ok(served, "GET", f"{base}/results", params={**params, "analysis": "drift"})
    assert len({(x["subject"], x["statistic"]) for x in results["results"]}) >= len(stored["features"])
    # the other analyses over the same window: data quality counted against the rows sent
    quality = await _ok(served, "GET", f"{base}/quality", params=params)
    current = [r for r in case.rows if mid <= r.time < T0 + SPAN]
    assert quality["n"] == len(current), (case.name, quality["n"], len(current))
    assert {f["feature"]: (f["n"], f["missing"]) for f in quality["features"]} == (
        {name: (len(current), sum(getattr(r, name) is None for r in current)) for name in ("x", "c")}
        if case.has("features") else {}), case.name
    if case.has("labels"):
        degradation = await _ok(served, "GET", f"{base}/degradation", params=params)
        assert degradation["baseline"] == "matrix-ref"
    else:  # nothing to degrade from: a clear 422, not a verdict
        r = await served.get(f"{base}/degradation", params=params)
        assert r.status_code == 422 and "labelled reference" in r.text, (r.status_code, r.text)
    await _ok(served, "GET", f"{base}/performance-summary", params={"days": 7})
    full = {"start": T0.isoformat(), "end": (T0 + SPAN).isoformat(), "granularity": "15m"}
    trend = await _ok(served, "GET", f"{base}/trend", params={**full, "metric": "count", "min_samples": 3})
    assert trend["metric"] == "count"
    await _ok(served, "GET", f"{base}/anomalies", params={**full, "metric": "count", "method": "mad"})
    compared = await _ok(served, "GET", f"{base}/compare", params={**RANGE, "versions": "v1,v2"})
    # the rows (and labelled rows) each version holds, counted from what was sent
    assert (compared["n_a"], compared["n_b"]) == tuple(sum(r.version == v for r in case.rows) for v in ("v1", "v2"))
    assert (compared["n_labelled_a"], compared["n_labelled_b"]) == tuple(
        sum(r.version == v and r.label is not None for r in case.rows) for v in ("v1", "v2"))
    r = await served.get(f"{base}/estimated-performance", params=params)
    if case.task != "regression" and case.has("labels"):
        assert r.status_code == 200, r.text
    else:  # nothing to estimate from (no class scores, or a reference without labels): a clear 422
        assert r.status_code == 422, (case.name, r.status_code, r.text)


@by_case
async def test_monitors(served: AsyncTestClient, case: Case) -> None:
    """A monitor of every analysis, run now over the second half of the range (in this process: the job's own
    code on the served database), for every task and shape of data: what the data cannot support is said per
    analysis (skipped, with the reason), the rest is stored; rows read equal the rows sent."""
    from engine.services.monitors.runner import run_pending
    from engine.store.unit import unit_from_pool

    base, mid, end = f"/api/v1/models/{case.name}/monitors", T0 + SPAN / 2, T0 + SPAN
    body = {"name": "matrix", "window": "90m", "granularity": "15m", "min_samples": 1,
            "analyses": [{"kind": k} for k in ("drift", "quality", "degradation")]
            + [{"kind": k, "params": {"metric": "count"}} for k in ("trend", "anomalies")]}
    made = await _ok(served, "POST", base + "/", json=body)
    assert made["window_seconds"] == 5400 and made["every"] == "90m"
    assert "matrix" in [m["name"] for m in await _ok(served, "GET", base + "/")]
    assert (case.name, "matrix") in [(m["model"], m["name"]) for m in await _ok(served, "GET", "/api/v1/monitors")]
    assert (await _ok(served, "GET", f"{base}/matrix"))["analyses"][3]["params"]["metric"] == "count"
    queued = await _ok(served, "POST", f"{base}/matrix/run", params={"end": end.isoformat()})
    assert queued["run"]["status"] == "queued" and not queued["noop"]
    pool = await asyncpg.create_pool(served.app.state.settings.database_url, min_size=1, max_size=2)
    try:
        async with unit_from_pool(pool, share=False) as uow:
            ran = await run_pending(uow, made["id"], "matrix-test")
    finally:
        await pool.close()
    assert ran.runs == 1, ran
    runs = await _ok(served, "GET", f"{base}/matrix/runs")
    run = await _ok(served, "GET", f"{base}/matrix/runs/{runs[0]['id']}")
    assert run["status"] == "succeeded", run
    assert run["rows_read"] == sum(1 for r in case.rows if mid <= r.time < end)
    details = run["details"]
    assert details["quality"]["status"] == details["trend"]["status"] == details["anomalies"]["status"] == "ok"
    # drift and degradation need an active baseline (test_baselines_drift_and_results makes one, in either order)
    active = any(b["active"] for b in await _ok(served, "GET", f"/api/v1/models/{case.name}/baselines/"))
    assert details["drift"]["status"] == ("ok" if active else "skipped"), details
    assert details["degradation"]["status"] == ("ok" if active and case.has("labels") else "skipped"), details
    for kind in ("drift", "degradation"):
        if details[kind]["status"] == "skipped":
            assert "baseline" in details[kind]["reason"] or "labelled reference" in details[kind]["reason"]
    stored = await _ok(served, "GET", f"/api/v1/models/{case.name}/results",
                       params={"start": mid.isoformat(), "end": end.isoformat(), "analysis": "quality"})
    assert any(r["run_key"] == "monitor:matrix" for r in stored["results"])
    await _ok(served, "DELETE", f"{base}/matrix")


async def test_every_read_endpoint_is_covered(served: AsyncTestClient) -> None:
    app = served.app
    reads = {r.path for r in app.routes if "GET" in r.methods and not r.path.startswith("/schema")}
    assert reads == set(READ_ENDPOINTS), f"read endpoints without a matrix test: {sorted(reads - set(READ_ENDPOINTS))}"
    assert (await _ok(served, "GET", "/health/live")) == {"status": "ok"}
    assert (await _ok(served, "GET", "/health/ready"))["status"] == "ok"
    listed = await _ok(served, "GET", "/api/v1/models")
    assert sorted(m["name"] for m in listed) == sorted(c.name for c in CASES)
    assert "paths" in await _ok(served, "GET", "/schema/openapi.json")
    assert await _ok(served, "GET", "/api/v1/admin/keys") == []  # open mode: no key was ever created
    # the range is fixed: nothing at all a day earlier, for any endpoint
    before = {"start": (T0 - timedelta(days=2)).isoformat(), "end": (T0 - timedelta(days=1)).isoformat()}
    for case in CASES:
        for path in (f"/api/v1/models/{case.name}/windows/metrics", f"/analytics/model/{case.name}/metrics",
                     f"/api/v1/models/{case.name}/windows/features"):
            assert (await _ok(served, "GET", path, params=before))["points"] == []

