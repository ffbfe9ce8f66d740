"""A demo stream for driftline: a real scikit-learn model, scored on data that drifts, logged through the SDK.

The model screens breast-cancer biopsies (scikit-learn's bundled `load_breast_cancer`, no download):
version 1.0.0 (logistic regression) serves A/B arm "A" in production, 1.1.0 (random forest) serves arm "B"
from staging. Over the last `--days` days the traffic comes increasingly from a new scanner vendor
("vendor_c") whose measurements of size run ~30 % high and texture ~4 units high: a covariate shift
that the models never saw, which pushes scores up and accuracy down. Every prediction is logged with its
latency and segment tags (environment, region, ab_arm) and the scanner vendor as a categorical feature;
ground truth arrives for ~60 % of cases, hours to days later (only labels "due" by now are sent); hourly
cost and CPU metrics are logged beside them.

Idempotent: the stream is a pure function of (anchor, rows, days, seed), the anchor being the hour in which
version 1.0.0 was registered (so a re-run rebuilds the same stream), prediction ids are deterministic (the
server skips ones it has), and a day's metrics are sent only when that day's predictions were new.

    python examples/demo_stream.py --url http://127.0.0.1:8000 [--rows 20000 --days 4]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL = "breast-cancer-screening"
CLASS_LABELS = ["benign", "malignant"]  # the second is the positive class that `score` refers to
VERSIONS = {"A": "1.0.0", "B": "1.1.0"}
REGIONS = ("eu", "us", "apac")
VENDORS = ("vendor_a", "vendor_b")  # declared; "vendor_c" appears only in the drift period
SIZE_WORDS = ("radius", "perimeter", "area")
LABEL_FRACTION = 0.6
COST_PER_PREDICTION = {"A": 0.0004, "B": 0.0011}  # USD: the forest costs more to serve


def feature_names() -> list[str]:
    return [n.replace(" ", "_") for n in load_breast_cancer().feature_names]


def train_models(seed: int = 0) -> tuple[dict[str, ClassifierMixin], np.ndarray, np.ndarray]:
    """Both versions trained on the same split; returns them with the held-out rows the stream draws from."""
    data = load_breast_cancer()
    y = (data.target == 0).astype(int)  # 1 = malignant (sklearn codes malignant as 0)
    x_train, x_hold, y_train, y_hold = train_test_split(data.data, y, test_size=0.4, stratify=y, random_state=seed)
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_train, y_train)
    rf = RandomForestClassifier(n_estimators=150, min_samples_leaf=2, random_state=seed).fit(x_train, y_train)
    return {"A": lr, "B": rf}, x_hold, y_hold


def model_spec() -> dict[str, Any]:
    """The registry entry: 30 numeric measurements (non-negative) and the scanner vendor."""
    features: list[dict[str, Any]] = [{"name": n, "kind": "numeric", "min_value": 0.0} for n in feature_names()]
    features.append({"name": "scanner_vendor", "kind": "categorical", "categories": list(VENDORS)})
    return {"name": MODEL, "task": "binary", "class_labels": CLASS_LABELS, "threshold": 0.5,
            "dimensions": ["region", "ab_arm"], "features": features,
            "description": "driftline demo: biopsy screening on scikit-learn's breast-cancer data, with drift"}


@dataclass(frozen=True, slots=True)
class Stream:
    predictions: pl.DataFrame  # one frame per SDK call: features by name, segments as columns
    labels: pl.DataFrame  # prediction_id, time, label, label_time (every label, due or not)
    metrics: list[dict[str, Any]]  # name, value, time, tags (dicts: each metric has its own tag keys)


def _drift_share(progress: np.ndarray, reference_days: float, days: float) -> np.ndarray:
    """Share of traffic from vendor_c: 0 during the reference period, then rising linearly to 70 %."""
    ramp = np.clip((progress * days - reference_days) / max(days - reference_days, 1e-9), 0.0, 1.0)
    return 0.7 * ramp


def build_stream(anchor: datetime, rows: int, days: float = 4.0, seed: int = 7) -> Stream:
    """The whole demo stream ending at `anchor` (exclusive). Pure: same arguments, same stream."""
    rng = np.random.default_rng(seed)
    models, x_hold, y_hold = train_models()
    names = feature_names()
    start = anchor - timedelta(days=days)
    offsets = np.sort(rng.uniform(0.0, days * 86_400.0, rows))
    progress = offsets / (days * 86_400.0)
    pick = rng.integers(0, len(x_hold), rows)
    x = x_hold[pick] * rng.normal(1.0, 0.03, (rows, x_hold.shape[1]))  # measurement noise: no exact repeats
    y = y_hold[pick]
    vendor_c = rng.random(rows) < _drift_share(progress, reference_days=1.0, days=days)
    size_cols = np.array([i for i, n in enumerate(names) if any(w in n for w in SIZE_WORDS)])
    texture_cols = np.array([i for i, n in enumerate(names) if "texture" in n])
    x[np.ix_(vendor_c, size_cols)] *= 1.3
    x[np.ix_(vendor_c, texture_cols)] += 4.0
    vendors = np.where(vendor_c, "vendor_c", rng.choice(np.array(VENDORS), rows))
    arm = np.where(rng.random(rows) < 0.7, "A", "B")
    region = rng.choice(np.array(REGIONS), rows, p=[0.45, 0.4, 0.15])
    score = np.empty(rows)
    for a, model in models.items():
        mask = arm == a
        score[mask] = model.predict_proba(x[mask])[:, 1]
    latency = rng.lognormal(np.log(6.0), 0.35, rows) + np.where(arm == "B", 9.0, 0.0)
    latency += np.where(region == "apac", 25.0, 0.0) + rng.exponential(1.5, rows)
    times = [start + timedelta(seconds=float(s)) for s in offsets]
    ids = [f"bc-{seed}-{i:07d}" for i in range(rows)]
    predictions = pl.DataFrame(
        {"prediction_id": ids, "time": times, "score": score, "latency_ms": latency,
         **{n: x[:, i] for i, n in enumerate(names)}, "scanner_vendor": vendors.tolist(),
         "environment": ["production"] * rows, "region": region.tolist(), "ab_arm": arm.tolist()},
        schema_overrides={"time": pl.Datetime("us", "UTC")},
    )
    labelled = rng.random(rows) < LABEL_FRACTION
    delay = rng.exponential(14.0 * 3600.0, rows) + 1800.0  # half an hour to a few days
    labels = pl.DataFrame(
        {"prediction_id": ids, "time": times, "label": np.array(CLASS_LABELS)[y].tolist(),
         "label_time": [t + timedelta(seconds=float(d)) for t, d in zip(times, delay, strict=True)]},
        schema_overrides={"time": pl.Datetime("us", "UTC"), "label_time": pl.Datetime("us", "UTC")},
    ).filter(pl.Series(labelled))
    return Stream(predictions, labels, hourly_metrics(predictions, rng))


def hourly_metrics(predictions: pl.DataFrame, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Serving cost per arm (total and per prediction) and CPU utilisation per region, hour by hour."""
    per_arm = (predictions.group_by(pl.col("time").dt.truncate("1h").alias("hour"), "ab_arm")
               .agg(pl.len().alias("n")).sort("hour", "ab_arm"))
    per_region = (predictions.group_by(pl.col("time").dt.truncate("1h").alias("hour"), "region")
                  .agg(pl.len().alias("n")).sort("hour", "region"))
    out: list[dict[str, Any]] = []
    for hour, arm, n in per_arm.iter_rows():
        unit = COST_PER_PREDICTION[arm] * float(rng.normal(1.0, 0.05))
        tags = {"ab_arm": arm, "version": VERSIONS[arm]}
        out.append({"name": "serving.cost_usd", "value": unit * n, "time": hour, "tags": tags})
        out.append({"name": "serving.cost_per_prediction_usd", "value": unit, "time": hour, "tags": tags})
    peak = max(int(per_region.get_column("n").max() or 1), 1)  # type: ignore[arg-type]
    for hour, region, n in per_region.iter_rows():
        cpu = min(0.98, 0.15 + 0.7 * n / peak + float(rng.normal(0.0, 0.03)))
        out.append({"name": "serving.cpu_utilization", "value": cpu, "time": hour, "tags": {"region": region}})
    return out


# --- talking to the API -----------------------------------------------------------------------------------


def ensure_registered(client: Any) -> datetime:
    """Create the model and its two versions unless they exist; return the stream's anchor hour."""
    from engine.sdk import DriftlineAPIError

    spec = model_spec()
    try:
        client.create_model(spec["name"], spec["task"], spec["features"], class_labels=spec["class_labels"],
                            threshold=spec["threshold"], dimensions=spec["dimensions"],
                            description=spec["description"])
        print(f"registered model {MODEL!r} ({len(spec['features'])} features)")
    except DriftlineAPIError as exc:
        if exc.status != 409:
            raise
        print(f"model {MODEL!r} already registered: reusing it")
    existing = {v.version: v for v in client.list_versions(MODEL)}
    for arm, stage in (("A", "production"), ("B", "staging")):
        version = VERSIONS[arm]
        if version not in existing:
            client.create_version(MODEL, version, description=f"serves A/B arm {arm}")
            existing[version] = client.promote(MODEL, version, stage)
            print(f"version {version} registered and promoted to {stage}")
    created: datetime = existing[VERSIONS["A"]].created_at
    return created.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def log_stream(client: Any, stream: Stream, now: datetime) -> dict[str, int]:
    """Predictions day by day (per version), each new day's metrics, then every label due by `now`."""
    totals = {"predictions_written": 0, "duplicates": 0, "metrics_written": 0, "labels_applied": 0}
    day = pl.col("time").dt.truncate("1d")
    for (day_start,), part in stream.predictions.group_by(day, maintain_order=True):
        written = 0
        for arm, version in VERSIONS.items():
            rows = part.filter(pl.col("ab_arm") == arm)
            if rows.height:
                summary = client.log_predictions(MODEL, rows, version=version,
                                                 segment_columns=["environment", "region", "ab_arm"])
                written += summary.written
                totals["duplicates"] += summary.duplicates
        totals["predictions_written"] += written
        if written:  # metrics have no ids: send a day's metrics only with that day's first logging
            end = day_start + timedelta(days=1)
            metrics = [m for m in stream.metrics if day_start <= m["time"] < end]
            if metrics:
                totals["metrics_written"] += client.log_metrics(metrics, model=MODEL).written
        print(f"  {day_start:%Y-%m-%d}: {part.height:,} predictions ({written:,} new)")
    due = stream.labels.filter(pl.col("label_time") <= now)
    if due.height:
        totals["labels_applied"] = client.log_labels(MODEL, due).written
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("DRIFTLINE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--rows", type=int, default=20_000, help="predictions in the stream (default 20,000)")
    parser.add_argument("--days", type=float, default=4.0, help="days the stream spans, ending now (default 4)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from engine.sdk import Client

    with Client(args.url) as client:
        anchor = ensure_registered(client)
        print(f"stream: {args.rows:,} predictions over {args.days:g} days up to {anchor:%Y-%m-%d %H:%M} UTC")
        stream = build_stream(anchor, args.rows, args.days, args.seed)
        totals = log_stream(client, stream, datetime.now(UTC))
        print("logged: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in totals.items()))
        show_drift(client, anchor, args.days)
    return 0


def show_drift(client: Any, anchor: datetime, days: float) -> None:
    """A baseline from the reference period (the first day, before vendor_c appears), then the drift of the
    last day against it: the new vendor and the shifted measurements show."""
    from engine.sdk.errors import DriftlineAPIError

    ref_start = (anchor - timedelta(days=days)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    ref_end = ref_start + timedelta(hours=22)
    try:
        client.create_baseline(MODEL, "reference", start=ref_start, end=ref_end)
        print(f"baseline 'reference' from [{ref_start:%Y-%m-%d %H:%M}, {ref_end:%Y-%m-%d %H:%M}) UTC, active")
    except DriftlineAPIError as exc:
        if exc.status != 409:
            raise
        print("baseline 'reference' exists: reusing it")
    end = anchor.replace(minute=0, second=0, microsecond=0)
    frame = client.drift(MODEL, end - timedelta(days=1), end)
    drifted = frame.filter(frame["drift"])["feature"].to_list()
    print(f"drift over the last day: {len(drifted)} of {frame.height} features drifted: {', '.join(drifted)}")
    try:  # all features together: the PCA reconstruction error of the day against the baseline's sample
        mv = client.multivariate_drift(MODEL, end - timedelta(days=1), end, method="pca")
        print(f"multivariate (PCA reconstruction): mean error {mv['statistic']:.3f}, band "
              f"[{mv['lower_threshold']:.3f}, {mv['threshold']:.3f}] -> {'DRIFT' if mv['drift'] else 'no drift'}")
    except DriftlineAPIError as exc:  # e.g. a baseline reused from before it kept a reference sample
        print(f"multivariate drift not available: {exc.detail}")


if __name__ == "__main__":
    sys.exit(main())
