"""Random prediction / label / metric streams for the window tests, written straight into the tables
(COPY and INSERT), independent of the ingest service: the windows must pick up any writer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PRED_COLUMNS = [
    "time",
    "model_id",
    "version_id",
    "prediction_id",
    "predicted_class",
    "predicted_value",
    "score",
    "probabilities",
    "latency_ms",
    "segments",
    "num_features",
    "cat_features",
    "label_class",
    "label_value",
    "label_time",
]


@dataclass
class Model:
    id: int
    name: str
    task: str
    classes: list[str] | None
    threshold: float
    dims: list[str]
    versions: dict[str, int]


async def create_model(
    conn: asyncpg.Connection,
    name: str,
    task: str,
    classes: list[str] | None = None,
    *,
    threshold: float = 0.5,
    dims: tuple[str, ...] = ("region",),
    versions: tuple[str, ...] = ("v1", "v2"),
    numeric: tuple[str, ...] = ("x1", "x2"),
    categorical: tuple[str, ...] = ("color",),
) -> Model:
    mid = await conn.fetchval(
        "INSERT INTO models (name, task, class_labels, threshold, dimensions) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        name,
        task,
        classes,
        threshold,
        list(dims),
    )
    declared = [(f, "numeric", i) for i, f in enumerate(numeric, 1)]
    declared += [(f, "categorical", i) for i, f in enumerate(categorical, 1)]
    for ordinal, (f, kind, position) in enumerate(declared, 1):
        await conn.execute(
            "INSERT INTO model_features (model_id, name, kind, position, ordinal) VALUES ($1, $2, $3, $4, $5)",
            mid,
            f,
            kind,
            position,
            ordinal,
        )
    vids = {}
    for v in versions:
        vids[v] = await conn.fetchval(
            "INSERT INTO model_versions (model_id, version) VALUES ($1, $2) RETURNING id", mid, v
        )
    return Model(mid, name, task, classes, threshold, list(dims), vids)


def prediction_rows(
    rng: np.random.Generator,
    model: Model,
    n: int,
    *,
    start: datetime = T0,
    minutes: int = 180,
    labeled: float = 0.0,
    id_prefix: str = "p",
) -> list[tuple[Any, ...]]:
    """Rows in random (not time) order over [start, start + minutes). A share `labeled` already carries its
    label; the rest get labels later (`label_rows`)."""
    offs = rng.uniform(0, minutes * 60, n)
    times = [start + timedelta(seconds=float(o)) for o in offs]
    vids = list(model.versions.values())
    regions = ["eu", "us", "ap", None]
    colors = ["red", "green", "blue", "mauve", None]
    rows = []
    for i in range(n):
        region = regions[rng.integers(len(regions))]
        seg = {"region": region, "req": f"r{rng.integers(1000)}"} if region else {"req": "x"}
        num = [float(rng.normal(0, 2)) if rng.random() > 0.05 else None, float(rng.exponential(3))]
        cat = [colors[rng.integers(len(colors))]]
        latency = float(rng.lognormal(2.0, 1.0)) if rng.random() > 0.02 else None
        pred_class = pred_value = score = probs = None
        if model.task == "binary":
            assert model.classes
            score = float(rng.beta(2, 2)) if rng.random() > 0.03 else None
            pred_class = (
                model.classes[int(score >= model.threshold)]
                if score is not None
                else model.classes[int(rng.integers(2))]
            )
        elif model.task == "multiclass":
            assert model.classes
            p = rng.dirichlet(np.ones(len(model.classes)))
            probs = [float(x) for x in p]
            pred_class = model.classes[int(np.argmax(p))]
        else:
            pred_value = float(rng.normal(10, 5))
        rows.append(
            (
                times[i],
                model.id,
                vids[int(rng.integers(len(vids)))],
                f"{id_prefix}{i}",
                pred_class,
                pred_value,
                score,
                probs,
                latency,
                json.dumps(seg),
                num,
                cat,
                None,
                None,
                None,
            )
        )
    if labeled:
        rows = [apply_label(rng, model, r) if rng.random() < labeled else r for r in rows]
    return rows


def draw_label(
    rng: np.random.Generator, model: Model, row: tuple[Any, ...]
) -> tuple[str | None, float | None]:
    if model.task == "regression":
        y = float(row[5] + rng.normal(0, 3)) if rng.random() > 0.05 else 0.0
        return None, y
    assert model.classes
    if model.task == "binary" and row[6] is not None:
        return model.classes[int(rng.random() < row[6])], None
    return model.classes[int(rng.integers(len(model.classes)))], None


def apply_label(rng: np.random.Generator, model: Model, row: tuple[Any, ...]) -> tuple[Any, ...]:
    lc, lv = draw_label(rng, model, row)
    r = list(row)
    r[12], r[13], r[14] = lc, lv, row[0] + timedelta(seconds=float(rng.uniform(1, 7200)))
    return tuple(r)


async def copy_predictions(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table("predictions", records=rows, columns=PRED_COLUMNS)


async def insert_predictions(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    cols = ", ".join(PRED_COLUMNS)
    marks = ", ".join(f"${i}" for i in range(1, len(PRED_COLUMNS) + 1))
    await conn.executemany(f"INSERT INTO predictions ({cols}) VALUES ({marks})", rows)


async def label_late(conn: asyncpg.Connection, rng: np.random.Generator, model: Model, share: float) -> None:
    """Label a random share of the still unlabeled predictions, as one bulk UPDATE (labels arrive late)."""
    recs = await conn.fetch(
        "SELECT prediction_id, time, score, predicted_value FROM predictions"
        " WHERE model_id = $1 AND label_time IS NULL",
        model.id,
    )
    pids, lcs, lvs, lts = [], [], [], []
    for r in recs:
        if rng.random() >= share:
            continue
        fake = (r["time"], None, None, None, None, r["predicted_value"], r["score"])
        lc, lv = draw_label(rng, model, fake)
        pids.append(r["prediction_id"])
        lcs.append(lc)
        lvs.append(lv)
        lts.append(r["time"] + timedelta(seconds=float(rng.uniform(60, 86400))))
    await conn.execute(
        """UPDATE predictions p SET label_class = v.lc, label_value = v.lv, label_time = v.lt
           FROM unnest($2::text[], $3::text[], $4::float8[], $5::timestamptz[]) AS v(pid, lc, lv, lt)
           WHERE p.model_id = $1 AND p.prediction_id = v.pid""",
        model.id,
        pids,
        lcs,
        lvs,
        lts,
    )


async def raw_predictions(conn: asyncpg.Connection, model_id: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM predictions WHERE model_id = $1", model_id)
