"""The faster read path gives what the plain one gives. Pure: no database.

- `assemble_wire` (point parts as Structs) encodes to exactly the JSON of `assemble_parts` (dicts): same keys
  in the same order, same values, on random merged state for every task (empty buckets, partial columns,
  per-class intervals with missing classes).
- `merge_columns` merges groups of one width (a reshaped axis) and of varying widths (`reduceat`) alike, and
  the scalar state packed in one float8 array per row (`SCALARS`) as the same columns sent one by one: checked
  against sums / minima / maxima per group computed in plain Python on the rows.
- `retain_heap` is accepted by glibc (and is a no-op at 0).
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import numpy as np
import pytest

from api.heap import retain_heap
from engine.domain import ModelSpec
from engine.windows.catalog import metric_names, needed_columns
from engine.windows.derive_batch import assemble_parts, derive_columns
from engine.windows.merge import SCALARS, merge_columns
from engine.windows.spec import Family
from engine.windows.wire_rows import assemble_wire, row_type
from tests.windows.test_derive_batch import MODELS, _subset, random_merged

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ENC = msgspec.json.Encoder()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.task)
@pytest.mark.parametrize("seed", [4, 5])
def test_wire_rows_encode_as_dicts(model: ModelSpec, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = len(model.class_labels or ()) or 2
    merged = random_merged(rng, 120, k)
    names = list(metric_names(model.task))
    for wanted in (set(names), {"count"}, set(rng.choice(names, 6, replace=False).tolist())):
        part = _subset(merged, needed_columns(wanted))
        d = derive_columns(model, part, 3600.0, wanted)
        plain, wire = assemble_parts(d), assemble_wire(d)
        assert len(plain) == len(wire) == 6
        for a, b in zip(plain, wire, strict=True):
            assert len(a) == len(b) == len(part)
            assert ENC.encode(b) == ENC.encode(a)


def test_row_type_any_keys() -> None:
    row = row_type(("a b", "é", "class:1"))
    assert ENC.encode(row(1, msgspec.UNSET, None)) == b'{"a b":1,"class:1":null}'
    assert row_type(("a b", "é", "class:1")) is row


class _Rec(tuple[Any, ...]):
    """What merge_columns reads of an asyncpg Record: values by position and `keys()`."""

    names: tuple[str, ...] = ()

    def keys(self) -> tuple[str, ...]:
        return self.names


def _records(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[_Rec]:
    cls = type("Rec", (_Rec,), {"names": names})
    return [cls(r) for r in rows]


def _int8_array(values: list[int]) -> bytes:
    head = struct.pack(">iiiii", 1, 0, 20, len(values), 1)
    return head + b"".join(struct.pack(">iq", 8, v) for v in values)


def _float8_array(values: list[float]) -> bytes:
    head = struct.pack(">iiiii", 1, 0, 701, len(values), 1)
    return head + b"".join(struct.pack(">id", 8, v) for v in values)


FAM = Family(
    "t", "t", ("model_id",),
    (("n", "count"), ("s", "sum"), ("lo", "min"), ("hi", "max"), ("c", "counts")),
)


def _rows(rng: np.random.Generator, widths: list[int]) -> list[dict[str, Any]]:
    out = []
    for g, w in enumerate(widths):
        for _ in range(w):
            absent = rng.random(4) < 0.2
            out.append({
                "bucket": T0 + timedelta(hours=g), "grp": None,
                "n": None if absent[0] else int(rng.integers(0, 1000)),
                "s": None if absent[1] else float(rng.normal(0, 100)),
                "lo": None if absent[2] else float(rng.normal(0, 100)),
                "hi": None if absent[3] else float(rng.normal(0, 100)),
                "c": None if rng.random() < 0.1 else [int(x) for x in rng.integers(0, 50, 7)],
            })
    return out


def _expected(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["bucket"], []).append(r)
    want: dict[str, list[Any]] = {"n": [], "s": [], "lo": [], "hi": [], "c": []}
    for rs in groups.values():
        vals = {k: [r[k] for r in rs if r[k] is not None] for k in want}
        want["n"].append(sum(vals["n"]))
        want["s"].append(math.fsum(vals["s"]) if vals["s"] else 0.0)
        want["lo"].append(min(vals["lo"]) if vals["lo"] else None)
        want["hi"].append(max(vals["hi"]) if vals["hi"] else None)
        want["c"].append([sum(x) for x in zip(*vals["c"], strict=True)] if vals["c"] else [0] * 7)
    return want


@pytest.mark.parametrize("widths", [[1] * 9, [2] * 12, [6] * 5, [1, 3, 2, 2, 5, 1, 4]], ids=str)
@pytest.mark.parametrize("packed", [False, True], ids=["columns", "packed"])
def test_merge_groups(widths: list[int], packed: bool) -> None:
    rng = np.random.default_rng(len(widths) * 7 + sum(widths))
    rows = _rows(rng, widths)
    c = [_int8_array(r["c"]) if r["c"] is not None else None for r in rows]
    if packed:
        nan = float("nan")
        scalars = [_float8_array([nan if r[k] is None else float(r[k]) for k in ("n", "s", "lo", "hi")]) for r in rows]
        names: tuple[str, ...] = ("bucket", "grp", SCALARS, "c")
        recs = _records(names, [(r["bucket"], r["grp"], sc, cc) for r, sc, cc in zip(rows, scalars, c, strict=True)])
    else:
        names = ("bucket", "grp", "n", "s", "lo", "hi", "c")
        recs = _records(names, [(r["bucket"], r["grp"], r["n"], r["s"], r["lo"], r["hi"], cc) for r, cc in zip(rows, c, strict=True)])
    m = merge_columns(FAM, recs)
    want = _expected(rows)
    assert len(m) == len(widths)
    assert m.columns["n"].dtype == np.int64 and m.columns["n"].tolist() == want["n"]
    np.testing.assert_allclose(m.columns["s"], want["s"], rtol=1e-12, atol=1e-9)
    for k in ("lo", "hi"):
        got = [None if math.isnan(x) else x for x in m.columns[k].tolist()]
        assert got == want[k]
    assert m.columns["c"].tolist() == want["c"]
    for k in ("n", "s", "lo", "hi", "c"):
        starts = np.cumsum([0, *widths[:-1]])
        has = [any(rows[i][k] is not None for i in range(a, a + w)) for a, w in zip(starts, widths, strict=True)]
        assert m.present[k].dtype == np.bool_ and m.present[k].tolist() == has, k


def test_retain_heap() -> None:
    assert retain_heap(0) is False
    assert retain_heap(64) is True  # glibc (the image and CI are glibc Linux)
