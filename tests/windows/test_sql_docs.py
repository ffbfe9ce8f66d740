"""Every ```sql example in README.md and sql/README.md runs against a migrated database holding a model
named 'churn' (data from the hour before `NOW`), returns rows, and the merged daily example equals numpy on
the raw rows (its ROC AUC bounds scikit-learn's). The examples read "the last hour / day / week" before
now(): the test binds a fixed instant in place of now(), so neither the data nor the checks depend on when
the suite runs."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from sklearn import metrics as skm

from tests.conftest import refresh_windows
from tests.windows.streams import copy_predictions, create_model, prediction_rows

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # far from midnight UTC: the daily example has one row


def pinned(sql: str) -> tuple[str, list[datetime]]:
    """The example with `now()` bound to NOW (the statement and its arguments)."""
    return (sql.replace("now()", "$1::timestamptz"), [NOW]) if "now()" in sql else (sql, [])


def sql_examples() -> list[tuple[str, str]]:
    out = []
    for doc in ("README.md", "sql/README.md"):
        for i, block in enumerate(re.findall(r"^```sql\n(.*?)^```", (ROOT / doc).read_text(), re.M | re.S)):
            out.append((f"{doc}#{i + 1}", block))
    return out


def test_docs_have_sql_examples() -> None:
    assert len(sql_examples()) >= 6


@pytest.mark.asyncio
async def test_sql_examples_run_and_agree(pool: asyncpg.Pool) -> None:
    rng = np.random.default_rng(91)
    start = NOW - timedelta(minutes=50)
    async with pool.acquire() as conn:
        m = await create_model(conn, "churn", "binary", ["no", "yes"], dims=("region",))
        await copy_predictions(conn, prediction_rows(rng, m, 2000, start=start, minutes=45, labeled=0.6))
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, edges) VALUES ($1, 'x1', 'numeric', $2)",
            m.id,
            [-2.0, 0.0, 2.0],
        )
        await conn.execute(
            "INSERT INTO feature_baselines (model_id, feature, kind, categories) VALUES"
            " ($1, 'color', 'categorical', '{red,green,blue}')",
            m.id,
        )
        await conn.copy_records_to_table(
            "metrics",
            records=[
                (start + timedelta(seconds=i), m.id, "cost", float(i % 7), json.dumps({"env": "prod"}))
                for i in range(300)
            ],
            columns=["time", "model_id", "name", "value", "tags"],
        )
    await refresh_windows(pool)
    async with pool.acquire() as conn:
        for where, sql in sql_examples():
            statement, args = pinned(sql)
            rows = await conn.fetch(statement, *args)
            assert rows, f"{where} returned no rows:\n{sql}"
        raw = await conn.fetch(
            "SELECT score, label_class, latency_ms FROM predictions WHERE model_id = $1", m.id
        )
        daily_sql, args = pinned(next(sql for w, sql in sql_examples() if "time_bucket('1 day'" in sql))
        daily = await conn.fetch(daily_sql, *args)
    assert sum(r["predictions"] for r in daily) == len(raw)
    labeled = [r for r in raw if r["label_class"] is not None and r["score"] is not None]
    assert len(daily) == 1
    eps = 2.220446049250313e-16
    p = np.clip(np.array([r["score"] if r["label_class"] == "yes" else 1 - r["score"] for r in labeled]), eps, 1 - eps)
    assert daily[0]["log_loss"] == pytest.approx(float(np.mean(-np.log(p))), rel=1e-9)
    y = np.array([r["label_class"] == "yes" for r in labeled])
    auc = skm.roc_auc_score(y, [r["score"] for r in labeled])
    assert abs(daily[0]["roc_auc"] - auc) <= daily[0]["roc_auc_bound"] + 1e-12
    assert 0 < daily[0]["roc_auc_bound"] < 0.01
    n_labeled = sum(r["label_class"] is not None for r in raw)
    assert daily[0]["label_coverage"] == pytest.approx(n_labeled / len(raw), rel=1e-12)
    lat = np.array([r["latency_ms"] for r in raw if r["latency_ms"] is not None])
    p95 = float(np.quantile(lat, 0.95))
    # log-spaced bins 10^(1/20) wide: the histogram quantile lies within one bin of numpy's
    assert abs(math.log10(daily[0]["latency_p95_ms"]) - math.log10(p95)) <= 1 / 20 + 1e-9
