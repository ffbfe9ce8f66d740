"""Parquet pairs for the analytics-job tests (predictions of the three reference models of
tests/ingest/support.py, and custom metrics), written into an input root, and the oracles the outputs are
checked against (numpy / sklearn / scipy on the raw rows of those files)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from engine.config import AnalyticsSettings, Settings
from engine.domain import ModelSpec

T0 = datetime(2026, 3, 3, tzinfo=UTC)
SPAN = timedelta(hours=12)
WIDTH = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400}
OUTLIER_BUCKETS = 2  # stretches of `cost_usd` far above the rest (the IQR outliers the outputs must flag)


@dataclass(frozen=True)
class Pair:
    predictions: pl.DataFrame
    metrics: pl.DataFrame
    predictions_path: Path
    metrics_path: Path


def settings(db_url: str, root: Path, out: Path, **kw: Any) -> Settings:
    return Settings(database_url=db_url, analytics=AnalyticsSettings(input_root=str(root), output_path=str(out)), **kw)


def _times(rng: np.random.Generator, n: int, start: datetime = T0) -> list[datetime]:
    secs = np.sort(rng.uniform(0, SPAN.total_seconds(), size=n))
    return [start + timedelta(seconds=float(s)) for s in secs]


def predictions_frame(model: ModelSpec, rng: np.random.Generator, n: int, labelled: bool = True,
                      prefix: str = "p", start: datetime = T0) -> pl.DataFrame:
    cols: dict[str, Any] = {"prediction_id": [f"{prefix}-{i}" for i in range(n)],
                            "time": pl.Series(_times(rng, n, start), dtype=pl.Datetime("us", "UTC")),
                            "latency_ms": rng.gamma(2.0, 10.0, size=n)}
    labels = list(model.class_labels or ())
    if model.task == "binary":
        score = rng.uniform(size=n)
        cols["score"] = score
        if labelled:
            cols["label"] = [labels[1] if rng.random() < s else labels[0] for s in score]
    elif model.task == "multiclass":
        p = rng.dirichlet(np.ones(len(labels)), size=n)
        cols["probabilities"] = pl.Series([list(map(float, r)) for r in p], dtype=pl.List(pl.Float64))
        cols["prediction"] = [labels[int(np.argmax(r))] for r in p]
        if labelled:
            cols["label"] = [labels[int(rng.choice(len(labels), p=r))] for r in p]
    else:
        pred = rng.normal(100, 10, size=n)
        cols["prediction"] = pred
        if labelled:
            cols["label"] = pred + rng.normal(0, 5, size=n)
    for f in model.features:
        if f.kind == "numeric":
            cols[f.name] = rng.uniform(0, 100, size=n) if f.name != "tenure" else rng.integers(0, 60, size=n).astype(float)
        else:
            options = list(f.categories or ("a", "b", "c"))
            cols[f.name] = [options[int(k)] for k in rng.integers(len(options), size=n)]
    if model.dimensions:
        cols["segment.region"] = [("eu", "us")[int(k)] for k in rng.integers(2, size=n)]
    return pl.DataFrame(cols)


def metrics_frame(rng: np.random.Generator, n: int, start: datetime = T0) -> pl.DataFrame:
    """`cost_usd` rising through the span with two stretches of outliers; `gpu_util` flat noise."""
    times = _times(rng, n, start)
    names = ["cost_usd" if k == 0 else "gpu_util" for k in rng.integers(2, size=n)]
    frac = np.array([(t - start).total_seconds() / SPAN.total_seconds() for t in times])
    cost = 1.0 + 2.0 * frac + rng.normal(0, 0.05, size=n)
    spikes = ((frac > 0.30) & (frac < 0.32)) | ((frac > 0.70) & (frac < 0.72))
    cost = np.where(spikes, cost + 50.0, cost)
    gpu = rng.uniform(20, 80, size=n)
    values = [float(c) if name == "cost_usd" else float(g) for name, c, g in zip(names, cost, gpu, strict=True)]
    return pl.DataFrame({"name": names, "value": values,
                         "time": pl.Series(times, dtype=pl.Datetime("us", "UTC")),
                         "tags": [json.dumps({"host": "a"})] * n})


def write_pair(root: Path, model: ModelSpec, seed: int, n: int = 1500, labelled: bool = True,
               sub: str = "in") -> Pair:
    rng = np.random.default_rng(seed)
    preds = predictions_frame(model, rng, n, labelled, prefix=f"{model.name}-{seed}")
    mets = metrics_frame(rng, n // 2)
    d = root / sub
    d.mkdir(parents=True, exist_ok=True)
    pp, mp = d / f"{model.name}_predictions.parquet", d / f"{model.name}_metrics.parquet"
    preds.write_parquet(pp)
    mets.write_parquet(mp)
    return Pair(preds, mets, pp, mp)


def in_bucket(frame: pl.DataFrame, bucket: datetime, granularity: str) -> pl.DataFrame:
    end = bucket + timedelta(seconds=WIDTH[granularity])
    return frame.filter((pl.col("time") >= bucket) & (pl.col("time") < end))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
