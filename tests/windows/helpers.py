"""Comparison helpers for window relations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from engine.windows.spec import Family, LevelName


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def assert_same_rows(actual: Sequence[asyncpg.Record], expected: Sequence[asyncpg.Record], what: str) -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} rows, expected {len(expected)}"
    for a, e in zip(actual, expected, strict=True):
        for key in e.keys():  # noqa: SIM118 (iterating an asyncpg Record yields values)
            assert _close(a[key], e[key]), f"{what}: column {key}: {a[key]!r} != {e[key]!r} in row {dict(e)}"


def order_by(family: Family) -> str:
    return ", ".join((*family.keys, "bucket"))


async def relation_rows(
    conn: asyncpg.Connection, family: Family, level: LevelName, where: str = "true"
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT * FROM {family.relation(level)} WHERE {where} ORDER BY {order_by(family)}"
    )


async def source_rows(conn: asyncpg.Connection, family: Family, where: str = "true") -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM {family.source('1m')} WHERE {where} ORDER BY {order_by(family)}")


def merge_exprs(family: Family) -> list[str]:
    """SQL aggregates merging the family's state columns with its merge rules (the test's own SQL, written
    independently of the migrations' templates)."""
    out = []
    for col, how in family.state:
        if how == "count":
            out.append(f"sum({col})::bigint AS {col}")
        elif how == "sum":
            out.append(f"sum({col}) AS {col}")
        elif how == "counts":
            out.append(f"dl_sum_counts({col}) AS {col}")
        elif how == "sums":
            out.append(f"dl_sum_sums({col}) AS {col}")
        else:
            out.append(f"{how}({col}) AS {col}")
    return out


async def merged_rows(
    conn: asyncpg.Connection, family: Family, below: LevelName, width: str
) -> list[asyncpg.Record]:
    """The level above `below`, merged here from `below` with the family's merge rules."""
    keys = ", ".join(family.keys)
    merges = ", ".join(merge_exprs(family))
    return await conn.fetch(
        f"SELECT time_bucket('{width}', bucket) AS bucket, {keys}, {merges} FROM {family.relation(below)}"
        f" GROUP BY 1, {keys} ORDER BY {order_by(family)}"
    )


def assert_view_row(row: asyncpg.Record, values: dict[str, Any], bounds: dict[str, float], cols: Sequence[str]) -> int:
    """One row of a derived SQL view (model_windows_*, model_version_windows_*) against the service's point
    (`values`, `error_bounds`): the count, the ROC AUC bound, and `cols`; returns how many of `cols` were
    defined (compared by value rather than as both NULL)."""
    assert row["predictions"] == values["count"]
    if values.get("roc_auc") is None:  # a class absent: no AUC, no bound
        assert row["roc_auc"] is None and row["roc_auc_bound"] is None
    else:
        assert row["roc_auc_bound"] == pytest.approx(bounds.get("roc_auc", 0.0), rel=1e-9, abs=1e-15)
    checked = 0
    for col in cols:
        want = values.get(col)
        if want is None:
            assert row[col] is None, col
        else:
            assert row[col] == pytest.approx(want, rel=1e-9), col
            checked += 1
    return checked
