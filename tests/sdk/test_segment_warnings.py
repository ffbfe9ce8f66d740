"""Segment keys that are not declared dimensions are stored, and every ingest answer says so (`warnings`):
REST JSON and Arrow bodies, replays, the SDK's summaries and the CLI."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import polars as pl

from engine.sdk import Client
from tests.cli.helpers import driftline
from tests.sdk.conftest import MODEL, fetch, model_features, prediction_rows


def _create(url: str) -> None:
    with Client(url) as dl:
        dl.create_model(MODEL, "binary", model_features(), class_labels=["no", "yes"], dimensions=["region"])
        dl.create_version(MODEL, "1.0", stage="production")


async def test_undeclared_segment_keys_are_stored_with_a_warning(server_url: str, db_url: str,
                                                                 tmp_path: Path) -> None:
    _create(server_url)
    rows = prediction_rows(12, seed=3)  # segments: region (declared) on all, arm (undeclared) on every third
    url = f"{server_url}/api/v1/models/{MODEL}/predictions"
    r = httpx.post(url, json=rows, headers={"idempotency-key": "k-1"})
    assert r.status_code == 201, r.text
    [warning] = r.json()["warnings"]
    assert warning["row"] is None and warning["field"] == "segments.arm"
    assert "not a declared dimension" in warning["reason"] and "region" in warning["reason"]
    replay = httpx.post(url, json=rows, headers={"idempotency-key": "k-1"})
    assert replay.status_code == 200 and replay.json()["warnings"] == r.json()["warnings"]
    stored = await fetch(db_url, "SELECT count(*) AS n FROM predictions WHERE segments ? 'arm'")
    assert stored[0]["n"] == 4  # stored all the same

    # declared keys only: no warning
    plain = [{**row, "prediction_id": f"plain-{i}", "segments": {"region": "eu"}} for i, row in enumerate(rows)]
    r = httpx.post(url, json=plain)
    assert r.status_code == 201 and r.json()["warnings"] == []

    # a frame whose segment columns include undeclared ones, through REST (Arrow) and the SDK
    frame = pl.DataFrame({"prediction_id": ["f-1", "f-2"], "time": ["2026-03-02T09:00:00Z"] * 2, "score": [0.2, 0.9],
                          "region": ["eu", "us"], "tier": ["gold", None], "shop": [None, None]}
                         ).with_columns(pl.col("time").str.to_datetime(time_zone="UTC"))
    buf = io.BytesIO()
    frame.write_ipc_stream(buf)
    r = httpx.post(url, params={"segment_columns": "region,tier,shop"}, content=buf.getvalue(),
                   headers={"content-type": "application/vnd.apache.arrow.stream"})
    assert r.status_code == 201, r.text
    assert [w["field"] for w in r.json()["warnings"]] == ["segments.tier"]  # shop holds no value: nothing stored
    frame = frame.drop("shop")
    with Client(server_url, batch_size=1) as dl:
        summary = dl.log_predictions(MODEL, frame.with_columns(pl.col("prediction_id") + "-sdk"),
                                     segment_columns=["region", "tier"])
        assert [w.field for w in summary.batches[0].warnings] == ["segments.tier"]
        assert summary.batches[1].warnings == ()
        assert [w.field for w in summary.warnings] == ["segments.tier"]
        assert summary.to_dict()["warnings"][0]["field"] == "segments.tier"
        labels = dl.log_labels(MODEL, [{"prediction_id": "f-1", "label": "no"}])
        assert labels.warnings == ()

    # the CLI says it on stderr, and succeeds
    frame.with_columns(pl.col("prediction_id") + "-cli").write_parquet(tmp_path / "p.parquet")
    out = driftline(db_url, "ingest", "predictions", str(tmp_path / "p.parquet"), "-m", MODEL,
                    "--segment-columns", "region,tier")
    assert out.returncode == 0, out.stderr
    assert "warning: segments.tier: not a declared dimension" in out.stderr
