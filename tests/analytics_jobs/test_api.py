"""`/analytics/jobs` over HTTP (Litestar's test client on the real app and database): create (201, 200 on
the same body, 409 on a different one), list, get, runs, run, delete; bad paths and files answer 4xx naming
the field and the reason, and nothing is stored."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import polars as pl
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from engine.config import Settings, SettingsError
from tests.analytics_jobs.support import settings, write_pair
from tests.ingest.support import register_all

JSON = {"content-type": "application/json"}


@pytest.fixture
async def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
async def jobs_client(db_url: str, root: Path, tmp_path: Path) -> AsyncIterator[AsyncTestClient]:
    root.mkdir()
    app = create_app(settings(db_url, root, tmp_path / "out", pool_max_size=4))
    async with AsyncTestClient(app=app) as c:
        yield c


def body(job_id: str = "daily_churn", model: str = "churn", **kw: Any) -> dict[str, Any]:
    return {"job_id": job_id, "model_name": model, "metrics_path": "in/churn_metrics.parquet",
            "predictions_path": "in/churn_predictions.parquet", "frequency": "daily", **kw}


async def test_create_is_idempotent_on_the_same_body_and_conflicts_on_another(
    jobs_client: AsyncTestClient, pool: asyncpg.Pool, root: Path,
) -> None:
    models = await register_all(pool)
    write_pair(root, models["churn"], seed=1, n=200)
    first = await jobs_client.post("/analytics/jobs", json=body())
    assert first.status_code == 201, first.text
    assert first.json()["job_id"] == "daily_churn" and first.json()["last_status"] is None
    again = await jobs_client.post("/analytics/jobs", json=body())
    assert again.status_code == 200 and again.json() == first.json()
    other = await jobs_client.post("/analytics/jobs", json=body(frequency="hourly"))
    assert other.status_code == 409 and "different body" in other.json()["detail"]
    listed = await jobs_client.get("/analytics/jobs")
    assert [j["job_id"] for j in listed.json()["jobs"]] == ["daily_churn"]
    assert (await jobs_client.get("/analytics/jobs/daily_churn")).json() == first.json()
    assert (await jobs_client.get("/analytics/jobs/nope")).status_code == 404
    assert (await jobs_client.post("/analytics/jobs/nope/run", headers=JSON)).status_code == 404


async def test_run_records_history_and_delete_removes_the_job(
    jobs_client: AsyncTestClient, pool: asyncpg.Pool, root: Path, tmp_path: Path,
) -> None:
    models = await register_all(pool)
    pair = write_pair(root, models["price"], seed=2, n=300)
    created = await jobs_client.post("/analytics/jobs", json=body("p", "price", metrics_path=str(pair.metrics_path),
                                                                  predictions_path="in/price_predictions.parquet"))
    assert created.status_code == 201, created.text
    ran = await jobs_client.post("/analytics/jobs/p/run", headers=JSON)
    assert ran.status_code == 201, ran.text
    run = ran.json()["run"]
    assert run["status"] == "succeeded" and run["trigger"] == "manual"
    assert run["rows_ingested"] == pair.predictions.height + pair.metrics.height
    batch = run["batch_id"]
    assert sorted(run["outputs"]) == sorted([f"price_metrics_{batch}.json", f"price_predictions_{batch}.json",
                                             f"batch_summary_{batch}.json"])
    assert all((tmp_path / "out" / name).is_file() for name in run["outputs"])
    assert ran.json()["result"]["batch_id"] == batch
    rerun = (await jobs_client.post("/analytics/jobs/p/run", headers=JSON)).json()["run"]
    assert rerun["batch_id"] == batch and rerun["rows_ingested"] == 0

    # a run that fails is recorded with its error and traceback
    pair.predictions.drop("prediction").write_parquet(pair.predictions_path)
    failed = (await jobs_client.post("/analytics/jobs/p/run", headers=JSON)).json()["run"]
    assert failed["status"] == "failed" and "prediction" in failed["error"]
    assert "Traceback" in failed["traceback"]
    runs = (await jobs_client.get("/analytics/jobs/p/runs")).json()["runs"]
    assert [r["status"] for r in runs] == ["failed", "succeeded", "succeeded"]
    job = (await jobs_client.get("/analytics/jobs/p")).json()
    assert job["last_status"] == "failed" and job["last_run_at"] is not None
    assert (await jobs_client.get("/analytics/jobs/p/runs", params={"limit": 0})).status_code == 422

    deleted = await jobs_client.delete("/analytics/jobs/p")
    assert deleted.status_code == 200 and deleted.json()["job_id"] == "p"
    assert (await jobs_client.get("/analytics/jobs/p")).status_code == 404
    assert (await jobs_client.delete("/analytics/jobs/p")).status_code == 404


async def _refused(client: AsyncTestClient, payload: dict[str, Any], field: str, words: str,
                   status: int = 422) -> None:
    r = await client.post("/analytics/jobs", json=payload)
    assert r.status_code == status, r.text
    errors = r.json()["errors"]
    assert any(e["field"] == field and words in e["reason"] for e in errors), errors


async def test_bad_paths_and_files_are_refused_naming_field_and_reason(
    jobs_client: AsyncTestClient, pool: asyncpg.Pool, root: Path, tmp_path: Path,
) -> None:
    models = await register_all(pool)
    pair = write_pair(root, models["churn"], seed=3, n=100)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    pair.predictions.write_parquet(outside / "p.parquet")
    os.symlink(outside / "p.parquet", root / "in" / "link.parquet")
    os.symlink(outside, root / "in" / "dirlink")
    (root / "in" / "text.parquet").write_text("not parquet at all")
    pair.predictions.drop("time").write_parquet(root / "in" / "no_time.parquet")
    pair.predictions.with_columns(pl.col("time").dt.replace_time_zone(None)).write_parquet(root / "in" / "naive.parquet")
    pair.predictions.drop("score").write_parquet(root / "in" / "no_score.parquet")
    pair.predictions.drop("tenure").write_parquet(root / "in" / "no_tenure.parquet")
    pair.predictions.with_columns(pl.lit(1).alias("colour")).write_parquet(root / "in" / "extra.parquet")
    pair.metrics.drop("value").write_parquet(root / "in" / "no_value.parquet")

    p = "predictions_path"
    await _refused(jobs_client, body(predictions_path="../elsewhere/p.parquet"), p, "'..' is not allowed")
    await _refused(jobs_client, body(predictions_path="in/../in/churn_predictions.parquet"), p, "'..'")
    await _refused(jobs_client, body(predictions_path=str(outside / "p.parquet")), p, "outside the input root")
    await _refused(jobs_client, body(predictions_path="in/link.parquet"), p, "through a symbolic link")
    await _refused(jobs_client, body(predictions_path="in/dirlink/p.parquet"), p, "outside the input root")
    await _refused(jobs_client, body(predictions_path="in/missing.parquet"), p, "no such file")
    await _refused(jobs_client, body(predictions_path="in"), p, "no such file")
    await _refused(jobs_client, body(predictions_path="in/text.parquet"), p, "not a Parquet file")
    await _refused(jobs_client, body(predictions_path="in/no_time.parquet"), p, "column 'time' is missing")
    await _refused(jobs_client, body(predictions_path="in/naive.parquet"), p, "timezone-aware")
    await _refused(jobs_client, body(predictions_path="in/no_score.parquet"), p, "column 'prediction' is missing")
    await _refused(jobs_client, body(predictions_path="in/no_tenure.parquet"), p, "column 'tenure' is missing")
    await _refused(jobs_client, body(predictions_path="in/extra.parquet"), p, "unknown column 'colour'")
    await _refused(jobs_client, body(metrics_path="in/no_value.parquet"), "metrics_path", "column 'value' is missing")
    await _refused(jobs_client, body(model="nobody"), "model_name", "nobody")
    # the body itself
    for bad in (body(frequency="monthly"), body(job_id="../x"), body(job_id=""), {**body(), "extra": 1},
                body(predictions_path="")):
        assert (await jobs_client.post("/analytics/jobs", json=bad)).status_code == 400
    r = await jobs_client.post("/analytics/jobs", content=b"job_id=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert (await jobs_client.get("/analytics/jobs")).json()["jobs"] == []


async def test_without_an_input_root_every_path_is_refused(db_url: str, pool: asyncpg.Pool, tmp_path: Path) -> None:
    await register_all(pool)
    app = create_app(Settings(database_url=db_url))
    async with AsyncTestClient(app=app) as client:
        await _refused(client, body(), "predictions_path", "DRIFTLINE_ANALYTICS_INPUT_ROOT")


def test_analytics_settings_from_the_environment() -> None:
    assert Settings.from_env({}).analytics.input_root is None
    cfg = Settings.from_env({"DRIFTLINE_ANALYTICS_INPUT_ROOT": "/srv/in", "DRIFTLINE_ANALYTICS_OUTPUT_PATH": "/srv/out",
                             "DRIFTLINE_ANALYTICS_WINDOW_SIZE": "12", "DRIFTLINE_ANALYTICS_OUTLIER_THRESHOLD": "3"})
    assert (cfg.analytics.input_root, cfg.analytics.output_path) == ("/srv/in", "/srv/out")
    assert (cfg.analytics.window_size, cfg.analytics.outlier_threshold) == (12, 3.0)
    for key, value in (("DRIFTLINE_ANALYTICS_WINDOW_SIZE", "2"), ("DRIFTLINE_ANALYTICS_WINDOW_SIZE", "x"),
                       ("DRIFTLINE_ANALYTICS_OUTLIER_THRESHOLD", "-1"), ("DRIFTLINE_ANALYTICS_OUTLIER_THRESHOLD", "nan")):
        with pytest.raises(SettingsError, match=key):
            Settings.from_env({key: value})
