"""Rows with known distributions for the analysis tests: a reference period and a shifted one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import numpy as np

from engine.domain import ModelSpec
from tests.ingest.support import T0

REF_START, REF_END = T0, T0 + timedelta(hours=3)
CUR_START, CUR_END = T0 + timedelta(hours=5), T0 + timedelta(hours=6)

COLUMNS = ("time", "model_id", "version_id", "prediction_id", "predicted_class", "predicted_value", "score",
           "probabilities", "segments", "num_features", "cat_features", "label_class", "label_value")


def feature_values(model: ModelSpec, rng: np.random.Generator, shifted: bool) -> tuple[list[Any], list[Any]]:
    num = []
    for f in model.numeric_features:
        if f.name == "age":
            num.append(float(rng.normal(48 if shifted else 40, 10)) if rng.random() > 0.05 else None)
        elif f.name == "income":
            num.append(float(rng.lognormal(10, 1)))
        else:
            num.append(float(rng.normal(0, 1)))
    cat = []
    for f in model.categorical_features:
        if f.name == "channel" and shifted and rng.random() < 0.6:
            cat.append("partner")
        else:
            options = list(f.categories or ("a", "b", "c"))
            cat.append(options[int(rng.integers(len(options)))] if rng.random() > 0.05 else None)
    return num, cat


async def insert_rows(
    conn: asyncpg.Connection, model: ModelSpec, version_id: int, rng: np.random.Generator, start: datetime,
    end: datetime, n: int, shifted: bool = False, labeled: bool = True, prefix: str = "r", region: str = "eu",
) -> None:
    span = (end - start).total_seconds()
    rows = []
    for i in range(n):
        t = start + timedelta(seconds=float(rng.uniform(0, span)))
        num, cat = feature_values(model, rng, shifted)
        pred_class = pred_value = score = probs = label_class = label_value = None
        labels = list(model.class_labels or ())
        if model.task == "binary":
            score = float(rng.random())
            pred_class = labels[1] if score >= model.threshold else labels[0]
            label_class = (labels[1] if rng.random() < score else labels[0]) if labeled else None
        elif model.task == "multiclass":
            p = rng.dirichlet(np.ones(len(labels)))
            probs = [float(x) for x in p]
            pred_class = labels[int(np.argmax(p))]
            label_class = labels[int(rng.choice(len(labels), p=p))] if labeled else None
        else:
            pred_value = float(rng.normal(100, 10))
            label_value = pred_value + float(rng.normal(0, 5)) if labeled else None
        rows.append((t, model.id, version_id, f"{prefix}-{i}", pred_class, pred_value, score, probs,
                     json.dumps({"region": region}), num, cat, label_class, label_value))
    await conn.copy_records_to_table("predictions", records=rows, columns=COLUMNS)


async def raw_feature(conn: asyncpg.Connection, model: ModelSpec, name: str, start: datetime, end: datetime) -> list[Any]:
    f = next(f for f in model.features if f.name == name)
    col = "num_features" if f.kind == "numeric" else "cat_features"
    return [r[0] for r in await conn.fetch(
        f"SELECT {col}[{f.position}] FROM predictions WHERE model_id = $1 AND time >= $2 AND time < $3",
        model.id, start, end)]
