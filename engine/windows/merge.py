"""Merging fetched window rows per (bucket, grp) in numpy.

Count arrays arrive as `array_send(bigint[])` bytes (PostgreSQL's binary array format: a 20-byte header
for one dimension, then a 4-byte length and an 8-byte big-endian value per element; window arrays never
hold NULL elements). Parsing whole columns at once with a structured dtype and summing with
`np.add.reduceat` keeps a 30-day read in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray

from engine.windows.spec import Family

_HEADER = 20  # ndim, has-null flag, element type oid, dimension length, lower bound (int32 each)


def decode_int8_array(buf: bytes | None) -> NDArray[np.int64] | None:
    if buf is None:
        return None
    if len(buf) < _HEADER:  # empty array: 12-byte header, no dimensions
        return np.zeros(0, dtype=np.int64)
    return np.frombuffer(buf, dtype=np.dtype([("len", ">i4"), ("v", ">i8")]), offset=_HEADER)["v"].astype(
        np.int64
    )


def _column_matrix(values: list[bytes | None]) -> NDArray[np.int64] | list[NDArray[np.int64] | None]:
    """(rows, length) matrix when every array has the same length (NULL rows as zeros), else a list."""
    lengths = {len(v) for v in values if v is not None}
    if len(lengths) != 1:
        return [decode_int8_array(v) for v in values]
    size = lengths.pop()
    if size < _HEADER:
        return [decode_int8_array(v) for v in values]
    n = (size - _HEADER) // 12
    rec = np.dtype([("h", "V20"), ("e", [("len", ">i4"), ("v", ">i8")], (n,))])
    blank = bytes(size)
    mat = np.frombuffer(b"".join(v if v is not None else blank for v in values), dtype=rec)["e"]["v"]
    return mat.astype(np.int64)


def merge_rows(family: Family, rows: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    """Rows sorted by (bucket, grp) → one dict per (bucket, grp) with the family's merge rules."""
    if not rows:
        return []
    keys = [(r["bucket"], r["grp"]) for r in rows]
    starts = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
    idx = np.asarray(starts)
    out: list[dict[str, Any]] = [{"bucket": keys[i][0], "grp": keys[i][1]} for i in starts]
    bounds = [*starts[1:], len(rows)]
    for col, how in family.state:
        values = [r[col] for r in rows]
        if how == "counts":
            mat = _column_matrix(values)
            if isinstance(mat, np.ndarray):
                summed = (
                    np.add.reduceat(mat, idx, axis=0)
                    if mat.shape[1]
                    else np.zeros((len(starts), 0), np.int64)
                )
                any_present = np.add.reduceat(np.array([v is not None for v in values]), idx) > 0
                for o, s, present in zip(out, summed, any_present, strict=True):
                    o[col] = s if present else None
            else:
                for o, a, b in zip(out, starts, bounds, strict=True):
                    parts = [x for x in mat[a:b] if x is not None]
                    o[col] = np.sum(parts, axis=0) if parts else None
            continue
        if how in ("count", "sum"):
            arr = np.array([0 if v is None else v for v in values], dtype=np.float64)
            present = np.add.reduceat(np.array([v is not None for v in values]), idx) > 0
            summed = np.add.reduceat(arr, idx)
            for o, s, p in zip(out, summed, present, strict=True):
                o[col] = (int(s) if how == "count" else float(s)) if p else (0 if how == "count" else None)
            continue
        arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        red = np.fmin.reduceat(arr, idx) if how == "min" else np.fmax.reduceat(arr, idx)
        for o, v in zip(out, red, strict=True):
            o[col] = None if np.isnan(v) else float(v)
    return out
